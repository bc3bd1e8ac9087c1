"""Writes the calendar makes: booking and moving through the booking rules, feed secrets."""

from datetime import datetime

from django.core import signing
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from common.ids import parse_pk
from scheduling import services
from scheduling.calendar.selectors import feed_by_trainer_id
from scheduling.models import CalendarFeed, Session, new_feed_secret

FEED_SALT = "fitcrm.calendar-feed"


# --- Booking and moving ------------------------------------------------------------------------


def _refuse_past(starts_at: datetime, now: datetime, what: str) -> None:
    if starts_at < now:
        raise ValidationError(f"{what} in the past: pick a time from now on.", code="past")


def calendar_book(
    *, trainer, client, starts_at: datetime, duration_minutes: int, location: str = "", now=None
) -> Session:
    """Book from an empty slot: the admin's rules (clashes, duration), and never in the past."""
    _refuse_past(starts_at, now or timezone.now(), "A session cannot be booked")
    return services.session_book(
        trainer=trainer,
        client=client,
        starts_at=starts_at,
        duration_minutes=duration_minutes,
        location=location,
    )


@transaction.atomic
def calendar_move(*, session: Session, starts_at: datetime, duration_minutes: int, now=None) -> Session:
    """Drag and drop: a new start and/or length, through ``session_update``.

    Only a scheduled session that has not started moves, and only to a time
    still ahead: moving one into the past would quietly skip its reminder.
    """
    now = now or timezone.now()
    current = Session.objects.select_for_update().get(pk=session.pk)
    if current.status != Session.Status.SCHEDULED:
        raise ValidationError(
            f"A {current.get_status_display().lower()} session cannot be moved.", code="not_scheduled"
        )
    if current.starts_at < now:
        raise ValidationError("This session has already started; it cannot be moved.", code="started")
    _refuse_past(starts_at, now, "A session cannot be moved")
    return services.session_update(session=current, starts_at=starts_at, duration_minutes=duration_minutes)


# --- Subscription feeds ---------------------------------------------------------------------------


def feed_for(trainer) -> CalendarFeed:
    feed, _ = CalendarFeed.objects.get_or_create(trainer=trainer)
    return feed


def feed_rotate(*, trainer) -> CalendarFeed:
    """A new secret: every link handed out so far stops working."""
    feed = feed_for(trainer)
    feed.secret = new_feed_secret()
    feed.save(update_fields=["secret", "updated_at"])
    return feed


def _signer(feed: CalendarFeed) -> signing.Signer:
    # The salt holds the trainer and her secret: a token verifies for one trainer
    # and only until the secret is rotated. "." keeps it URL-friendly.
    return signing.Signer(salt=f"{FEED_SALT}:{feed.trainer_id}:{feed.secret}", sep=".")


def feed_token(feed: CalendarFeed) -> str:
    return _signer(feed).sign(str(feed.trainer_id))


def feed_from_token(token: str) -> CalendarFeed | None:
    """The feed a token opens, or ``None`` (tampered, rotated, or the trainer is gone)."""
    trainer_id = parse_pk(token.partition(".")[0])
    if trainer_id is None:
        return None
    feed = feed_by_trainer_id(trainer_id)
    if feed is None:
        return None
    try:
        value = _signer(feed).unsign(token)
    except signing.BadSignature:
        return None
    return feed if value == str(trainer_id) else None
