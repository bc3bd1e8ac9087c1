"""Reads for the trainer inbox: conversations, threads and unread counts.

Scoping follows the admin: studio managers see every client, a trainer only
the clients they train. Everything here starts from :func:`visible_clients`,
so a client outside the user's book is simply not found.
"""

from datetime import UTC, datetime

from django.db.models import Count, F, IntegerField, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce, Greatest

from clients.models import Client
from clients.roles import is_manager
from clients.selectors import visible_clients
from messaging.models import ClientActivity, Message

Direction = Message.Direction


def unread_messages() -> QuerySet[Message]:
    """Messages from clients that no one in the studio has read yet."""
    return Message.objects.filter(direction=Direction.INBOUND, read_at__isnull=True)


def unread_activities() -> QuerySet[ClientActivity]:
    """What clients did (confirmed, cancelled, opted out...) that no one has read yet."""
    return ClientActivity.objects.filter(read_at__isnull=True)


def unread_total(user) -> int:
    messages = unread_messages().filter(client__isnull=False)
    activities = unread_activities()
    if not is_manager(user):
        messages = messages.filter(client__trainer=user)
        activities = activities.filter(client__trainer=user)
    return messages.count() + activities.count()


def unread_in_thread(client: Client) -> int:
    return unread_messages().filter(client=client).count() + unread_activities().filter(client=client).count()


_LONG_AGO = Value(datetime(1970, 1, 1, tzinfo=UTC))


def _count(qs):
    return Coalesce(
        Subquery(
            qs.filter(client=OuterRef("pk")).order_by().values("client").annotate(n=Count("pk")).values("n"),
            output_field=IntegerField(),
        ),
        0,
    )


def conversations(
    *, user, unread: bool = False, needs_reply: bool = False, trainer_id: int | None = None
) -> QuerySet[Client]:
    """One row per client who has messages, newest conversation first.

    Every per-conversation figure is a correlated subquery, so a page of the
    list is one query however many conversations there are;
    :func:`attach_last_messages` adds one more for the messages themselves.
    """
    latest = Message.objects.filter(client=OuterRef("pk")).order_by("-created_at", "-pk")
    latest_activity = ClientActivity.objects.filter(client=OuterRef("pk")).order_by("-created_at", "-pk")
    rows = (
        visible_clients(user)
        .annotate(
            last_message_id=Subquery(latest.values("pk")[:1]),
            last_message_at=Subquery(latest.values("created_at")[:1]),
            last_direction=Subquery(latest.values("direction")[:1]),
            last_activity_id=Subquery(latest_activity.values("pk")[:1]),
            last_activity_at=Subquery(latest_activity.values("created_at")[:1]),
            unread_count=_count(unread_messages()) + _count(unread_activities()),
        )
        .filter(Q(last_message_id__isnull=False) | Q(last_activity_id__isnull=False))
        # Coalesce: Greatest() of a NULL is NULL on SQLite, the other value on PostgreSQL.
        .annotate(
            last_at=Greatest(Coalesce("last_message_at", _LONG_AGO), Coalesce("last_activity_at", _LONG_AGO))
        )
        .select_related("trainer")
        .order_by(F("last_at").desc(), F("last_message_id").desc(nulls_last=True))
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
    """Set ``last_message`` (and ``last_activity`` when it is newer) on each conversation row,
    with one query for the page's messages and one for its activities."""
    rows = list(rows)
    messages = Message.objects.in_bulk([row.last_message_id for row in rows if row.last_message_id])
    activities = ClientActivity.objects.select_related("session").in_bulk(
        [row.last_activity_id for row in rows if row.last_activity_id]
    )
    for row in rows:
        row.last_message = messages.get(row.last_message_id)
        activity = activities.get(row.last_activity_id)
        newer = activity is not None and (
            row.last_message is None or activity.created_at >= row.last_message.created_at
        )
        row.last_activity = activity if newer else None
    return rows


def thread(*, client: Client, latest: int | None = None) -> tuple[list, bool]:
    """Messages with this client, oldest first, across channels and both directions, with
    what the client did (:class:`ClientActivity`, ``is_activity``) in between.

    With ``latest``, only that many of the newest, and whether older ones exist.
    """
    messages = client.messages.select_related("sent_by")
    activities = client.activities.select_related("session", "message")
    if latest is None:
        items = list(messages.order_by("created_at", "pk")) + list(activities.order_by("created_at", "pk"))
        return sorted(items, key=lambda item: item.created_at), False
    newest = list(messages.order_by("-created_at", "-pk")[: latest + 1])
    newest += list(activities.order_by("-created_at", "-pk")[: latest + 1])
    newest.sort(key=lambda item: item.created_at, reverse=True)
    return newest[:latest][::-1], len(newest) > latest
