"""Bounding the history tables: finished messages and their events older than the retention.

What goes: messages in a final state (sent, delivered, read, failed, suppressed,
cancelled, received) created *and* last changed before the cutoff, with their
``MessageEvent`` history (cascade), and events that belong to no message. What stays:
anything queued or sending (the delivery engine's business, however old), and every
message touched since the cutoff.

The cutoff is never less than ``MIN_RETENTION_DAYS`` back: the weekly marketing cap
and the monthly SMS cap count recent messages, and providers retry callbacks for days
(their event ids, kept in ``MessageEvent``, make a retried callback change nothing).
Rows go in batches of ``BATCH_SIZE`` ids, each in its own short transaction, so a first
run over years of history never holds long locks.
"""

from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from messaging.models import Message, MessageEvent

Status = Message.Status
FINAL = (
    Status.SENT,
    Status.DELIVERED,
    Status.READ,
    Status.FAILED,
    Status.SUPPRESSED,
    Status.CANCELLED,
    Status.RECEIVED,
)
#: The monthly SMS cap looks back up to 31 days, the weekly marketing cap 7.
MIN_RETENTION_DAYS = 35
BATCH_SIZE = 2000


def retention_cutoff(*, days: int, now: datetime | None = None) -> datetime:
    if days < MIN_RETENTION_DAYS:
        raise ValueError(
            f"Retention must be at least {MIN_RETENTION_DAYS} days (the monthly SMS cap and the weekly "
            f"marketing cap count recent messages), not {days}."
        )
    return (now or timezone.now()) - timedelta(days=days)


def prunable_messages(cutoff: datetime):
    return Message.objects.filter(status__in=FINAL, created_at__lt=cutoff, updated_at__lt=cutoff)


def orphan_events(cutoff: datetime):
    return MessageEvent.objects.filter(message__isnull=True, created_at__lt=cutoff)


def prune_messages(*, cutoff: datetime, dry_run: bool = False, batch_size: int = BATCH_SIZE) -> dict:
    """Delete what :func:`prunable_messages` selects; returns the rows deleted (or that would be)."""
    if dry_run:
        messages = prunable_messages(cutoff)
        return {
            "messages": messages.count(),
            "message_events": MessageEvent.objects.filter(message__in=messages).count()
            + orphan_events(cutoff).count(),
        }
    counts = {"messages": 0, "message_events": 0}
    while ids := list(prunable_messages(cutoff).order_by("pk").values_list("pk", flat=True)[:batch_size]):
        with transaction.atomic():
            # Django's collector: events cascade, automation logs keep their row (message set null).
            _, per_model = Message.objects.filter(pk__in=ids).delete()
        counts["messages"] += per_model.get(Message._meta.label, 0)
        counts["message_events"] += per_model.get(MessageEvent._meta.label, 0)
    while ids := list(orphan_events(cutoff).order_by("pk").values_list("pk", flat=True)[:batch_size]):
        counts["message_events"] += MessageEvent.objects.filter(pk__in=ids).delete()[0]
    return counts
