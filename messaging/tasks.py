"""django-q2 tasks. One task drains many batches: a task per message tops out at
about 40 messages a second."""

import time

from django.conf import settings

from messaging import activity, delivery, receipts, waitlist
from messaging.heartbeat import record_heartbeat
from messaging.services import kick_delivery


def deliver_pending() -> int:
    """Deliver batches until the queue is drained or the time budget is spent.

    The budget stays well under the django-q2 task timeout, so the broker never
    kills a task mid-send; when time runs out with work left, another task is
    queued.
    """
    # Checked in before the work, so a run that then fails still shows a live worker: a
    # stuck queue is the oldest-due-message check's to report, not this one's.
    record_heartbeat()
    deadline = time.monotonic() + settings.MESSAGING_TASK_SECONDS
    limit = settings.MESSAGING_BATCH_SIZE
    total = 0
    while True:
        handled = delivery.deliver_due(limit=limit, deadline=deadline)
        total += handled
        if handled < limit:
            # Drained (or what is left waits for its time, quiet hours or the
            # marketing throttle): the periodic schedule comes back for it.
            return total
        if time.monotonic() > deadline:
            kick_delivery()
            return total


def deliver_test_email(*, message_id: int) -> bool:
    """Send one staff test email (``messaging.services.send_test_email``)."""
    return delivery.deliver_test_email(message_id=message_id)


def notify_trainer(*, activity_id: int | None = None, message_id: int | None = None) -> bool:
    """Email a trainer one thing a client did (her "an email per event" choice)."""
    return activity.notify_trainer(activity_id=activity_id, message_id=message_id)


def send_trainer_digests() -> int:
    """The hourly schedule: one digest email per trainer who chose it."""
    return activity.send_trainer_digests()


def offer_freed_slot(*, session_id: int, moved_from: dict | None = None) -> int:
    """A session was cancelled or moved: offer the time it freed to the waiting clients it suits (once each)."""
    return len(waitlist.offer_freed_slot(session_id=session_id, moved_from=moved_from))


def email_receipt(*, receipt_id: int) -> str:
    """Email a new receipt once (the studio's automatic receipts; ``messaging.receipts``)."""
    return receipts.email_receipt_automatically(receipt_id=receipt_id)
