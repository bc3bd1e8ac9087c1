"""Why a queued message has not gone out yet, and until when — in words for staff.

``hold_reason(message, now)`` is the one place that answers it: the inbox thread,
the message admin and the dashboard all show its sentence next to a held message,
so the wording and the rules cannot drift apart. It reads the same facts the
delivery engine (``messaging.delivery``) acts on — ``next_attempt_at``, attempts,
the client's quiet hours, the marketing caps — and never writes anything.

Times are written for the person looking: quiet hours in the client's own wall
clock ("held until 08:00 (client's time) — quiet hours"), everything else in the
viewer's zone (Django's current time zone on staff pages), with the client's clock
added when it differs ("retry 2 of 5 at 14:05 (Madrid 15:05)").
"""

from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from clients.models import Category, Channel
from common.timefmt import staff_time
from messaging.delivery import quiet_hours_resume_at
from messaging.models import Message

Status = Message.Status


def _viewer_when(moment: datetime, now: datetime, client_tz) -> str:
    """ "14:05", or "Tue 01 Dec 14:05" when it is not today for the viewer."""
    viewer = timezone.get_current_timezone()
    text = staff_time(moment, client_tz)
    if moment.astimezone(viewer).date() != now.astimezone(viewer).date():
        text = f"{moment.astimezone(viewer):%a %d %b} {text}"
    return text


def _quiet_hours(message: Message, due: datetime) -> datetime | None:
    """The end of the quiet hours the message is (or will be, when due) held by."""
    if message.channel != Channel.SMS or message.quiet_hours_overridden_at or message.client is None:
        return None
    tz = message.client.tzinfo
    resume = quiet_hours_resume_at(due, tz)
    if resume is None:
        # Deferred by the engine: it waits for exactly the end of quiet hours.
        just_before = quiet_hours_resume_at(due - timedelta(seconds=1), tz)
        if just_before == due:
            resume = due
    return resume


def _over_marketing_cap(message: Message, now: datetime) -> bool:
    cap = settings.MARKETING_WEEKLY_CAP_PER_CLIENT
    if not cap or message.category != Category.MARKETING or message.client_id is None:
        return False
    sent = (
        Message.objects.filter(
            client_id=message.client_id, category=Category.MARKETING, sent_at__gte=now - timedelta(days=7)
        )
        .exclude(pk=message.pk)
        .count()
    )
    return sent >= cap


def hold_reason(message: Message, now: datetime | None = None) -> str | None:
    """Why ``message`` is still waiting and until when, or ``None`` when it is not held.

    Held means queued and outbound: deferred by quiet hours (or due inside them), a
    retry waiting for its turn, a staff message scheduled for later, a marketing
    message over the client's weekly cap (it will be suppressed, not sent) or marketing
    email waiting for the per-minute rate. A message due now with nothing in its way
    is not held (``None``), nor is one in any other status.

    Use ``select_related("client")`` when listing: quiet hours need the client's zone.
    A marketing message costs one count query (the weekly cap); nothing else queries.
    """
    if message.status != Status.QUEUED or message.direction != Message.Direction.OUTBOUND:
        return None
    now = now or timezone.now()
    due = max(message.next_attempt_at or now, now)
    client_tz = message.client.tzinfo if message.client_id else None

    resume = _quiet_hours(message, due)
    if resume is not None:
        local = resume.astimezone(client_tz)
        text = f"held until {local:%H:%M} (client's time) — quiet hours"
        if message.not_after and resume >= message.not_after:
            text += "; that is too late to matter, so it will not be sent"
        return text
    if _over_marketing_cap(message, now):
        return (
            f"over the weekly marketing cap ({settings.MARKETING_WEEKLY_CAP_PER_CLIENT} per client): "
            "it will not be sent"
        )
    if due > now:
        when = _viewer_when(due, now, client_tz)
        if message.attempts and message.error:
            return f"retry {message.attempts + 1} of {settings.MESSAGING_MAX_ATTEMPTS} at {when}"
        return f"scheduled for {when}"
    if (
        message.channel == Channel.EMAIL
        and message.category == Category.MARKETING
        and due <= now - timedelta(minutes=1)
    ):
        # Due for over a minute: the per-minute marketing rate is what holds it back.
        rate = settings.MARKETING_EMAILS_PER_MINUTE
        if rate > 0:
            return f"waiting its turn: marketing email goes out at {rate} a minute"
    return None
