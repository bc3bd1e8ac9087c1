"""Reads for the trainer inbox: conversations, threads and unread counts.

Scoping follows the admin: studio managers see every client, a trainer only
the clients they train. Everything here starts from :func:`visible_clients`,
so a client outside the user's book is simply not found.
"""

from django.db.models import Count, IntegerField, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce

from clients.models import Client
from clients.roles import is_manager
from clients.selectors import visible_clients
from messaging.models import Message

Direction = Message.Direction


def unread_messages() -> QuerySet[Message]:
    """Messages from clients that no one in the studio has read yet."""
    return Message.objects.filter(direction=Direction.INBOUND, read_at__isnull=True)


def unread_total(user) -> int:
    messages = unread_messages().filter(client__isnull=False)
    if not is_manager(user):
        messages = messages.filter(client__trainer=user)
    return messages.count()


def conversations(
    *, user, unread: bool = False, needs_reply: bool = False, trainer_id: int | None = None
) -> QuerySet[Client]:
    """One row per client who has messages, newest conversation first.

    Every per-conversation figure is a correlated subquery, so a page of the
    list is one query however many conversations there are;
    :func:`attach_last_messages` adds one more for the messages themselves.
    """
    latest = Message.objects.filter(client=OuterRef("pk")).order_by("-created_at", "-pk")
    unread_count = (
        unread_messages()
        .filter(client=OuterRef("pk"))
        .order_by()
        .values("client")
        .annotate(n=Count("pk"))
        .values("n")
    )
    rows = (
        visible_clients(user)
        .annotate(
            last_message_id=Subquery(latest.values("pk")[:1]),
            last_message_at=Subquery(latest.values("created_at")[:1]),
            last_direction=Subquery(latest.values("direction")[:1]),
            unread_count=Coalesce(Subquery(unread_count, output_field=IntegerField()), 0),
        )
        .filter(last_message_id__isnull=False)
        .select_related("trainer")
        .order_by("-last_message_at", "-last_message_id")
    )
    if trainer_id and is_manager(user):
        rows = rows.filter(trainer_id=trainer_id)
    if unread:
        rows = rows.filter(unread_count__gt=0)
    if needs_reply:
        # The client spoke last and nobody has answered yet.
        rows = rows.filter(last_direction=Direction.INBOUND)
    return rows


def attach_last_messages(rows) -> list[Client]:
    """Set ``last_message`` on each conversation row with one query for the page."""
    rows = list(rows)
    messages = Message.objects.in_bulk([row.last_message_id for row in rows])
    for row in rows:
        row.last_message = messages.get(row.last_message_id)
    return rows


def thread(*, client: Client, latest: int | None = None) -> tuple[list[Message], bool]:
    """Messages with this client, oldest first, across channels and both directions.

    With ``latest``, only that many of the newest, and whether older ones exist.
    """
    messages = client.messages.select_related("sent_by")
    if latest is None:
        return list(messages.order_by("created_at", "pk")), False
    newest = list(messages.order_by("-created_at", "-pk")[: latest + 1])
    return newest[:latest][::-1], len(newest) > latest
