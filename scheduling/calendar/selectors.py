"""What the calendar and the feeds read: one range query on ``(trainer, starts_at)`` each."""

from datetime import datetime, timedelta

from scheduling import ics
from scheduling.models import MAX_DURATION_MINUTES, CalendarFeed, Session
from scheduling.selectors import visible_sessions

#: What a subscribed calendar gets: a month back, a year ahead.
FEED_DAYS_BACK = 30
FEED_DAYS_AHEAD = 365

_CARD_FIELDS = (
    "starts_at",
    "duration_minutes",
    "location",
    "status",
    "confirmed_at",
    "sequence",
    "series",
    "trainer__id",
    "trainer__first_name",
    "trainer__last_name",
    "trainer__username",
    "client__id",
    "client__first_name",
    "client__last_name",
    "client__email",
    "client__timezone",
)


def calendar_sessions(
    *, user, start: datetime, end: datetime, trainer_ids, include_cancelled: bool = False
) -> list[Session]:
    """Sessions of these trainers overlapping [start, end), as far as ``user`` may see them.

    One query. Only sessions starting up to the longest session length before
    ``start`` can overlap it, so the index range stays tight.
    """
    sessions = visible_sessions(user).filter(
        trainer_id__in=list(trainer_ids),
        starts_at__lt=end,
        starts_at__gt=start - timedelta(minutes=MAX_DURATION_MINUTES),
    )
    if not include_cancelled:
        sessions = sessions.exclude(status=Session.Status.CANCELLED)
    sessions = sessions.select_related("client", "trainer").only(*_CARD_FIELDS).order_by("starts_at", "pk")
    return [s for s in sessions if s.ends_at > start]


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
