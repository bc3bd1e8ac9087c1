"""The trainer hears what clients do: activity rows in the inbox, and emails when she wants them.

Whatever handles a client's action — the portal (confirm, cancel, a late cancel
refused), the Twilio and ESP webhooks (STOP, unsubscribe, a bounce), the delivery
engine (a permanent failure) — records it here with :func:`record_client_activity`.
The row shows in the client's inbox thread and counts as unread until the thread
is read. Replies are messages already; :func:`client_replied` only tells the trainer.

Besides the inbox each trainer chooses (``StaffProfile.notify``): nothing, an email
per event (a task queued after the commit, claimed once per activity), or one digest
per hour (the ``messaging: trainer digests`` schedule runs :func:`send_trainer_digests`;
each trainer's hour is claimed once on her profile, so two workers never send two).
Emails go to the trainer's own address through Django's mail backend, not the client
outbox: they are not messages *to a client*.
"""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from clients.models import Client, StaffProfile
from clients.services import client_email_unsubscribe, staff_claim_digest_window
from common.queue import enqueue
from messaging.models import ClientActivity, Message

logger = logging.getLogger(__name__)

Kind = ClientActivity.Kind
NOTIFY_TASK = "messaging.tasks.notify_trainer"
DIGEST_LIMIT = 200  # items listed in one digest; the rest is "and N more in your inbox"


# --- Recording --------------------------------------------------------------------------


def record_client_activity(
    *, client: Client, kind: str, detail: str = "", session=None, message=None, now=None
) -> ClientActivity:
    """Put what ``client`` did in their trainer's inbox (and email her if she asked to be)."""
    activity = ClientActivity.objects.create(
        client=client,
        kind=kind,
        detail=detail[:2000],
        session=session,
        message=message,
        created_at=now or timezone.now(),
    )
    _notify_on_commit(client, activity_id=activity.pk)
    return activity


def client_replied(*, message: Message) -> None:
    """A client's message arrived (SMS or the portal): it is in the inbox already; email too?"""
    if message.client_id:
        _notify_on_commit(message.client, message_id=message.pk)


@transaction.atomic
def email_unsubscribed(*, client: Client, source: str, detail: str = "") -> Client:
    """The client unsubscribed from email (a link, their provider): record it, and tell the
    trainer the first time (a second click changes nothing)."""
    already = client.email_unsubscribed_at is not None
    client = client_email_unsubscribe(client=client, source=source, detail=detail)
    if not already:
        record_client_activity(client=client, kind=Kind.EMAIL_UNSUBSCRIBED, detail=detail)
    return client


def _notify_on_commit(client: Client, **item):
    if not client.trainer_id or _notify_choice(client.trainer_id) != StaffProfile.Notify.EACH:
        return
    transaction.on_commit(
        lambda: enqueue(NOTIFY_TASK, task_name=f"notify trainer {client.trainer_id}", **item), robust=True
    )


def _notify_choice(user_id) -> str:
    return (
        StaffProfile.objects.filter(user_id=user_id).values_list("notify", flat=True).first()
        or StaffProfile.Notify.NOTHING
    )


# --- Words ------------------------------------------------------------------------------


@dataclass
class Item:
    """One thing to tell a trainer: an activity or a client's message."""

    client: Client
    at: datetime
    text: str


def _when(moment: datetime, tz) -> str:
    return f"{moment.astimezone(tz):%a %d %b %H:%M %Z}"


def describe_activity(activity: ClientActivity, tz) -> str:
    """ "Cancelled the session on Tue 01 Dec 09:00 GMT: “I'm ill”", in ``tz`` (the trainer's)."""
    text = activity.get_kind_display()
    if activity.session is not None:
        text = text.replace("a session", "the session")
        text += f" on {_when(activity.session.starts_at, tz)}"
    if activity.detail:
        text += f": “{activity.detail}”" if activity.kind == Kind.CANCELLED else f" ({activity.detail})"
    return text


def describe_message(message: Message) -> str:
    body = message.body if len(message.body) <= 300 else f"{message.body[:297]}..."
    return f"Wrote ({message.get_channel_display()}): {body}"


def _thread_url(client_id: int) -> str:
    return f"{settings.SITE_URL.rstrip('/')}{reverse('inbox:thread', args=[client_id])}"


def _send_email(user, subject: str, body: str) -> bool:
    if not user.email:
        logger.info("trainer %s wants client activity emails but has no address", user.pk)
        return False
    EmailMessage(subject=subject[:200], body=body, to=[user.email]).send()
    return True


# --- An email per event -------------------------------------------------------------------


def notify_trainer(*, activity_id: int | None = None, message_id: int | None = None) -> bool:
    """Email one event to the client's trainer (the task behind "an email per event")."""
    now = timezone.now()
    if activity_id is not None:
        # The claim: a retried task does not email twice.
        if not ClientActivity.objects.filter(pk=activity_id, notified_at__isnull=True).update(
            notified_at=now
        ):
            return False
        activity = ClientActivity.objects.select_related("client__trainer", "session").get(pk=activity_id)
        client = activity.client
        text = describe_activity(activity, _tz_of(client.trainer))
    else:
        message = Message.objects.select_related("client__trainer").filter(pk=message_id).first()
        if message is None or message.client is None:
            return False
        client = message.client
        text = describe_message(message)
    trainer = client.trainer
    if trainer is None:
        return False
    body = f"{client.full_name}: {text}\n\nOpen the conversation: {_thread_url(client.pk)}\n"
    return _send_email(trainer, f"{client.full_name}: {text}", body)


def _tz_of(user):
    profile = StaffProfile.objects.filter(user=user).first()
    return profile.tzinfo if profile else StaffProfile().tzinfo


# --- One digest per hour -----------------------------------------------------------------------


def digest_items(*, trainer, since: datetime, until: datetime) -> list[Item]:
    """What the trainer's clients did in (since, until] that nobody has read yet, oldest first."""
    tz = _tz_of(trainer)
    activities = ClientActivity.objects.filter(
        client__trainer=trainer, created_at__gt=since, created_at__lte=until, read_at__isnull=True
    ).select_related("client", "session")
    replies = Message.objects.filter(
        client__trainer=trainer,
        direction=Message.Direction.INBOUND,
        created_at__gt=since,
        created_at__lte=until,
        read_at__isnull=True,
    ).select_related("client")
    items = [Item(a.client, a.created_at, describe_activity(a, tz)) for a in activities[:DIGEST_LIMIT]]
    items += [Item(m.client, m.created_at, describe_message(m)) for m in replies[:DIGEST_LIMIT]]
    return sorted(items, key=lambda item: item.at)


def _digest_body(trainer, items: list[Item]) -> str:
    tz = _tz_of(trainer)
    lines = [f"What your clients did in the last hour ({len(items)}):", ""]
    by_client: dict[int, list[Item]] = {}
    for item in items:
        by_client.setdefault(item.client.pk, []).append(item)
    for client_items in by_client.values():
        client = client_items[0].client
        lines.append(client.full_name)
        lines += [f"  {item.at.astimezone(tz):%H:%M} {item.text}" for item in client_items]
        lines += [f"  {_thread_url(client.pk)}", ""]
    lines.append(f"Your inbox: {settings.SITE_URL.rstrip('/')}{reverse('inbox:list')}")
    return "\n".join(lines) + "\n"


def send_trainer_digests(*, now: datetime | None = None) -> int:
    """Send each "one digest per hour" trainer what happened since her last one; returns emails sent.

    Safe to run twice at once: each trainer's stretch of time is claimed on her
    profile before anything is read. An hour with nothing unread sends nothing.
    """
    now = now or timezone.now()
    sent = 0
    profiles = StaffProfile.objects.filter(
        notify=StaffProfile.Notify.HOURLY, user__is_active=True, user__is_staff=True
    ).select_related("user")
    for profile in profiles:
        window = staff_claim_digest_window(profile=profile, until=now)
        if window is None:
            continue
        since, until = window
        since = since or until - timedelta(hours=1)
        items = digest_items(trainer=profile.user, since=since, until=until)
        if not items:
            continue
        subject = f"{settings.STUDIO_NAME}: {len(items)} thing(s) your clients did"
        sent += _send_email(profile.user, subject, _digest_body(profile.user, items))
    return sent
