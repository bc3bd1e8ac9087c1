"""Writes the inbox makes: marking a conversation read, and a staff message."""

from django.db import transaction
from django.utils import timezone

from clients.models import Category, Client
from messaging.inbox.selectors import unread_activities, unread_messages
from messaging.models import Message
from messaging.services import send_message


def staff_read_thread(*, client: Client) -> int:
    """Staff read the thread: every unread message from this client, and everything they did,
    is read; returns how many."""
    now = timezone.now()
    # .update(): bookkeeping must not fire save signals.
    return unread_messages().filter(client=client).update(read_at=now) + unread_activities().filter(
        client=client
    ).update(read_at=now)


@transaction.atomic
def inbox_send(
    *, client: Client, channel: str, body: str, subject: str = "", sent_by, send_at=None, urgent: bool = False
) -> Message:
    """Send a staff message from the inbox; answering a client also reads their messages.

    ``send_at`` schedules it; ``urgent`` sends it through the client's quiet hours,
    recorded as ``sent_by``'s override.
    """
    message = send_message(
        client=client,
        channel=channel,
        body=body,
        subject=subject,
        category=Category.TRANSACTIONAL,
        sent_by=sent_by,
        send_at=send_at,
        urgent_by=sent_by if urgent else None,
    )
    staff_read_thread(client=client)
    return message
