"""What the calendar and the feeds read: one range query on ``(trainer, starts_at)`` each."""

from datetime import datetime, timedelta
from typing import NamedTuple

from scheduling import availability, ics
from scheduling.models import MAX_DURATION_MINUTES, CalendarFeed, Session
from scheduling.selectors import visible_sessions

#: What a subscribed calendar gets: a month back, a year ahead.
FEED_DAYS_BACK = 30
FEED_DAYS_AHEAD = 365


class Card(NamedTuple):
    """What the calendar shows of a session: plain values, no model instances (a busy
    week of several trainers is hundreds of rows)."""

    pk: int
    starts_at: datetime
    duration_minutes: int
    location: str
    status: str
    confirmed_at: datetime | None
    series: object
    trainer_id: int
    trainer_first_name: str
    trainer_last_name: str
    trainer_username: str
    client_id: int
    client_first_name: str
    client_last_name: str
    client_timezone: str

    @property
    def ends_at(self) -> datetime:
        return self.starts_at + timedelta(minutes=self.duration_minutes)


_CARD_FIELDS = (
    "pk",
    "starts_at",
    "duration_minutes",
    "location",
    "status",
    "confirmed_at",
    "series",
    "trainer_id",
    "trainer__first_name",
    "trainer__last_name",
    "trainer__username",
    "client_id",
    "client__first_name",
    "client__last_name",
    "client__timezone",
)


def card(session: Session) -> Card:
    """The card of a session already loaded (with its client and trainer)."""
    trainer, client = session.trainer, session.client
    return Card(
        session.pk,
        session.starts_at,
        session.duration_minutes,
        session.location,
        session.status,
        session.confirmed_at,
        session.series,
        session.trainer_id,
        trainer.first_name,
        trainer.last_name,
        trainer.get_username(),
        session.client_id,
        client.first_name,
        client.last_name,
        client.timezone,
    )


def calendar_sessions(
    *, user, start: datetime, end: datetime, trainer_ids, include_cancelled: bool = False
) -> list[Card]:
    """Sessions of these trainers overlapping [start, end), as far as ``user`` may see them.

    One query. Only sessions starting up to the longest session length before
    ``start`` can overlap it, so the index range on (trainer, starts_at) stays tight.
    """
    sessions = visible_sessions(user).filter(
        trainer_id__in=list(trainer_ids),
        starts_at__lt=end,
        starts_at__gt=start - timedelta(minutes=MAX_DURATION_MINUTES),
    )
    if not include_cancelled:
        sessions = sessions.exclude(status=Session.Status.CANCELLED)
    rows = sessions.order_by("starts_at", "pk").values_list(*_CARD_FIELDS)
    return [c for c in map(Card._make, rows) if c.ends_at > start]


def working_ranges(
    *, trainer_id: int, start: datetime, end: datetime
) -> list[tuple[datetime, datetime]] | None:
    """The trainer's working time inside [start, end) as UTC ranges (weekly hours, a
    date's override instead, nothing on a day off); ``None`` when she has no availability.

    Two queries (``availability.load_rules``); the expansion is the one free slots use.
    """
    rules = availability.load_rules(trainer=trainer_id, start=start, end=end)
    if rules is None:
        return None
    return availability.working_ranges(rules=rules, start=start, end=end)


def gaps(ranges, *, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
    """[start, end) minus ``ranges`` (sorted, not overlapping): the time not covered."""
    found, at = [], start
    for a, b in ranges:
        if a > at:
            found.append((at, a))
        at = max(at, b)
    if at < end:
        found.append((at, end))
    return found


def feed_rows(*, trainer, now: datetime) -> list[tuple]:
    """The trainer's sessions for her subscription, as ``ics.FEED_FIELDS`` tuples (one
    query, no model instances). Cancelled ones too, so that calendars which already
    have them mark them cancelled."""
    sessions = visible_sessions(trainer).filter(
        trainer=trainer,
        starts_at__gte=now - timedelta(days=FEED_DAYS_BACK),
        starts_at__lt=now + timedelta(days=FEED_DAYS_AHEAD),
    )
    return list(sessions.order_by("starts_at", "pk").values_list(*ics.FEED_FIELDS))


def feed_by_trainer_id(trainer_id: int) -> CalendarFeed | None:
    return (
        CalendarFeed.objects.select_related("trainer")
        .filter(trainer_id=trainer_id, trainer__is_active=True, trainer__is_staff=True)
        .first()
    )
