"""The outbox's public API: the one way to send a message, and what people and providers do to one.

``send_message`` writes a row in the caller's transaction and kicks a worker after
commit; the worker (``messaging.tasks``) runs the delivery engine in
``messaging.delivery``. Status changes reported by providers (webhooks) and made
by staff (retry, cancel) or clients (reading) go through the functions here.
"""

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from clients.models import Category, Channel, Client
from common.queue import enqueue
from messaging.channels import CHANNELS, get_channel

# A documented name (scripts drain the outbox with it); the engine itself is
# messaging.delivery, run by messaging.tasks.
from messaging.delivery import deliver_due  # noqa: F401
from messaging.models import Message, MessageEvent
from messaging.sms_text import normalize_sms_text

logger = logging.getLogger(__name__)

Status = Message.Status
CAUSE_FIELDS = frozenset({"rule", "session", "payment", "campaign", "sent_by", "not_after"})
DELIVER_TASK = "messaging.tasks.deliver_pending"

# A status may only be reached from these; anything else is a late or repeated report.
ADVANCE_FROM = {
    Status.SENT: {Status.SENDING},
    Status.DELIVERED: {Status.SENDING, Status.SENT},
    Status.READ: {Status.SENDING, Status.SENT, Status.DELIVERED},
    Status.FAILED: {Status.SENDING, Status.SENT},
}
TIMESTAMP_FIELD = {
    Status.SENT: "sent_at",
    Status.DELIVERED: "delivered_at",
    Status.READ: "read_at",
    Status.FAILED: "failed_at",
}


# --- Enqueueing ------------------------------------------------------------------


@dataclass(frozen=True)
class Attachment:
    """A text file sent with an email (an iCalendar invitation)."""

    filename: str
    content: str
    content_type: str = "text/plain"

    def as_json(self) -> dict:
        return {"filename": self.filename, "content_type": self.content_type, "content": self.content}


def send_message(
    *,
    client: Client,
    channel: str,
    body: str,
    subject: str = "",
    category: str = Category.TRANSACTIONAL,
    attachments=(),
    send_at=None,
    urgent_by=None,
    **caused_by,
) -> Message:
    """Queue one message for ``client``; delivery starts after the caller's transaction commits.

    ``send_at``: not before this moment (a staff message scheduled for later).
    ``urgent_by``: the staff user who chose "send now — urgent" inside the client's
    quiet hours; recorded on the row (who, when) and the engine does not defer it.
    Transactional messages only: nobody may wake a client up with an offer.

    ``caused_by`` holds any of rule=, session=, payment=, campaign=, sent_by= (what
    caused it) and not_after= (suppress rather than send after this moment).
    ``attachments`` (email only): :class:`Attachment` s, stored on the row so what
    is sent is what was queued.
    Consent is not checked here but at send time, so a STOP that arrives in
    between is honoured.
    """
    if urgent_by is not None and category != Category.TRANSACTIONAL:
        raise ValueError("only reminders and notices may override quiet hours")
    now = timezone.now()
    message = _new_message(
        Outgoing(
            client=client,
            channel=channel,
            body=body,
            subject=subject,
            category=category,
            attachments=tuple(attachments),
            caused_by=caused_by,
        ),
        now=now,
    )
    if send_at is not None:
        message.next_attempt_at = max(send_at, now)
    if urgent_by is not None:
        message.quiet_hours_overridden_at, message.quiet_hours_overridden_by = now, urgent_by
    message.save(force_insert=True)
    if urgent_by is not None:
        MessageEvent.objects.create(
            message=message,
            status=Status.QUEUED,
            source=MessageEvent.Source.STAFF,
            detail=f"sent inside the client's quiet hours as urgent by {urgent_by}",
        )
    kick_delivery_on_commit()
    return message


@dataclass(frozen=True)
class Outgoing:
    """One message for ``send_messages``: what ``send_message`` takes, as a value."""

    client: Client
    channel: str
    body: str
    subject: str = ""
    category: str = Category.TRANSACTIONAL
    attachments: tuple = ()
    caused_by: dict = field(default_factory=dict)


def send_messages(outgoing: Iterable[Outgoing]) -> list[Message]:
    """``send_message`` for many at once: the same rows, written with one INSERT, and
    one delivery kick after the caller's transaction commits.

    For whoever fires a lot at the same moment (the automation engine at 09:00).
    Returns the messages in the order given, saved, with their ids.
    """
    now = timezone.now()
    messages = [_new_message(item, now=now) for item in outgoing]
    if messages:
        Message.objects.bulk_create(messages)
        kick_delivery_on_commit()
    return messages


def _new_message(item: Outgoing, *, now) -> Message:
    unknown = set(item.caused_by) - CAUSE_FIELDS
    if unknown:
        raise TypeError(f"send_message() got unexpected keyword arguments: {', '.join(sorted(unknown))}")
    if item.channel not in CHANNELS:
        raise ValueError(f"unknown channel {item.channel!r}")
    if item.category not in Category.values:
        raise ValueError(f"unknown category {item.category!r}")
    if item.attachments and item.channel != Channel.EMAIL:
        raise ValueError("only email carries attachments")
    body = normalize_sms_text(item.body) if item.channel == Channel.SMS else item.body
    return Message(
        attachments=[attachment.as_json() for attachment in item.attachments],
        client=item.client,
        channel=item.channel,
        category=item.category,
        subject=item.subject[:200],
        body=body,
        to_address=get_channel(item.channel).address_for(item.client),
        next_attempt_at=now,
        **item.caused_by,
    )


def send_test_email(*, user, subject: str, body: str) -> Message:
    """Email a test (of a campaign, an automation rule...) to the staff member's own address.

    The subject says [TEST]. The message has no client: it is nobody's
    recipient, never in a campaign's or a rule's statistics, and the outbox
    engine (which sends only to clients) leaves it alone: ``sending`` with
    ``claimed_at`` keeps its claim away, and ``messaging.tasks.deliver_test_email`` sends it
    from a task after the caller's transaction commits. It is marketing email
    so that it counts against the studio's marketing email rate.
    """
    if not user.email:
        raise ValidationError("Add an email address to your own user account to receive test sends.")
    message = Message.objects.create(
        client=None,
        channel=Channel.EMAIL,
        category=Category.MARKETING,
        status=Status.SENDING,
        claimed_at=timezone.now(),
        to_address=user.email,
        subject=f"[TEST] {subject}"[:200],
        body=body,
        sent_by=user,
    )
    transaction.on_commit(
        lambda: enqueue(
            "messaging.tasks.deliver_test_email",
            message_id=message.pk,
            task_name=f"test email {message.pk}",
        ),
        robust=True,
    )
    return message


def kick_delivery():
    """Start a delivery worker task now (one task drains many batches)."""
    enqueue(DELIVER_TASK, task_name="messaging: deliver pending")


def kick_delivery_on_commit():
    """One kick per transaction, however many messages it queued: a campaign of
    5,000 rows must not become 5,000 tasks."""
    conn = transaction.get_connection()
    # run_on_commit holds (savepoint ids, func, robust); a kick registered in a
    # savepoint that was rolled back is gone from it, so we register again.
    if conn.in_atomic_block and any(func is kick_delivery for _, func, _ in conn.run_on_commit):
        return
    # robust: a broker hiccup must not break the caller's request; the periodic
    # schedule picks the message up anyway.
    transaction.on_commit(kick_delivery, robust=True)


# --- Status updates from providers and people -------------------------------------------


def record_event_once(*, message: Message, status: str, source: str, detail: str = "", event_id: str = ""):
    """Add a history row; with ``event_id``, only the first time (``None`` for a repeat)."""
    if not event_id:
        return MessageEvent.objects.create(message=message, status=status, source=source, detail=detail)
    try:
        with transaction.atomic():
            return MessageEvent.objects.create(
                message=message, status=status, source=source, detail=detail, event_id=event_id[:200]
            )
    except IntegrityError:
        return None


def message_advance_status(
    *,
    message: Message,
    status: str,
    source: str,
    detail: str = "",
    error: str = "",
    event_id: str = "",
    also_from: tuple = (),
    record: bool = True,
) -> bool:
    """Move ``message`` forward to ``status``; a late or repeated report changes nothing.

    ``event_id`` (the provider's id for this event) makes the call idempotent:
    the same event twice is recorded once. Returns whether the status changed.
    """
    now = timezone.now()
    allowed = set(ADVANCE_FROM[status]) | set(also_from)
    updates = {"status": status, TIMESTAMP_FIELD[status]: now, "updated_at": now}
    if error:
        updates["error"] = error[:2000]
    with transaction.atomic():
        event = None
        if record:
            event = record_event_once(
                message=message, status=status, source=source, detail=detail, event_id=event_id
            )
            if event is None:
                return False
        changed = bool(Message.objects.filter(pk=message.pk, status__in=allowed).update(**updates))
        if not changed and event is not None:
            MessageEvent.objects.filter(pk=event.pk).update(
                detail=f"{detail} (ignored: already {_current(message)})".strip()
            )
    if changed:
        message.status = status
    return changed


def _current(message) -> str:
    return Message.objects.filter(pk=message.pk).values_list("status", flat=True).first() or "gone"


def client_read_messages(*, client: Client, message_ids=None) -> int:
    """The client read what the studio sent them in the app: those messages become ``read``."""
    now = timezone.now()
    qs = Message.objects.filter(
        client=client,
        channel=Channel.IN_APP,
        direction=Message.Direction.OUTBOUND,
        status__in=ADVANCE_FROM[Status.READ],
    )
    if message_ids is not None:
        qs = qs.filter(pk__in=message_ids)
    return qs.update(status=Status.READ, read_at=now, updated_at=now)


def _staff_moves(message: Message, *, only_from: str, to: str, detail: str, **updates) -> bool:
    """Move ``message`` from ``only_from`` to ``to`` for staff, with a history row; a
    message that has meanwhile left ``only_from`` is not touched."""
    now = timezone.now()
    changed = Message.objects.filter(pk=message.pk, status=only_from).update(
        status=to,
        updated_at=now,
        **updates,
    )
    if changed:
        MessageEvent.objects.create(
            message=message, status=to, source=MessageEvent.Source.STAFF, detail=detail
        )
    return bool(changed)


def message_retry(*, message: Message, user=None) -> bool:
    """Staff asked to try a failed message again, now."""
    changed = _staff_moves(
        message,
        only_from=Status.FAILED,
        to=Status.QUEUED,
        detail=f"retry now by {user or 'staff'}",
        attempts=0,
        next_attempt_at=timezone.now(),
        claimed_at=None,
        failed_at=None,
    )
    if changed:
        kick_delivery_on_commit()
    return changed


def message_cancel(*, message: Message, user=None) -> bool:
    """Staff cancelled a message that has not gone out yet."""
    return _staff_moves(
        message, only_from=Status.QUEUED, to=Status.CANCELLED, detail=f"cancelled by {user or 'staff'}"
    )
