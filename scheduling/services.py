"""Booking rules: no double-booking, weekly series, status changes."""

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from clients.models import Client
from clients.timezones import staff_tz
from common.timefmt import staff_datetime, staff_span
from common.transitions import locked_transition
from scheduling.models import MAX_DURATION_MINUTES, Session, WaitlistRequest, new_series_id
from scheduling.signals import session_moved, session_status_changed, session_time_taken

Status = Session.Status


EARLIEST_YEAR, LATEST_YEAR = 1970, 2100


def validate_start(starts_at: datetime) -> None:
    """A start time the clash check can compute with (aware, a sensible year)."""
    if timezone.is_naive(starts_at):
        raise ValidationError({"starts_at": "The start time needs a time zone."}, code="naive")
    if not EARLIEST_YEAR <= starts_at.year <= LATEST_YEAR:
        raise ValidationError(
            {"starts_at": f"Pick a start time between the years {EARLIEST_YEAR} and {LATEST_YEAR}."},
            code="out_of_range",
        )


def find_clashes(*, trainer, client, starts_at: datetime, duration_minutes: int, exclude_pk=None):
    """Scheduled sessions of this trainer or this client that overlap the slot.

    A range query on the indexed ``starts_at``: only sessions that start less
    than the longest possible session before the slot can overlap it.
    """
    ends_at = starts_at + timedelta(minutes=duration_minutes)
    candidates = (
        Session.objects.filter(
            status=Status.SCHEDULED,
            starts_at__lt=ends_at,
            starts_at__gt=starts_at - timedelta(minutes=MAX_DURATION_MINUTES),
        )
        .filter(Q(trainer=trainer) | Q(client=client))
        .select_related("client")
        .order_by("starts_at")
    )
    if exclude_pk:
        candidates = candidates.exclude(pk=exclude_pk)
    return [s for s in candidates if s.ends_at > starts_at]


def describe_clash(session: Session, *, trainer, client) -> str:
    who = "The trainer" if session.trainer_id == getattr(trainer, "pk", None) else "The client"
    if session.trainer_id == getattr(trainer, "pk", None) and session.client_id == getattr(
        client, "pk", None
    ):
        who = "The trainer and the client"
    # Read by staff: in the viewer's zone, like every other time on their pages.
    return (
        f"{who} already has a session at that time: {session.client} on "
        f"{staff_span(session.starts_at, session.ends_at, session.client.tzinfo)} (session #{session.pk})."
    )


def validate_no_clash(*, trainer, client, starts_at, duration_minutes, exclude_pk=None):
    clashes = find_clashes(
        trainer=trainer,
        client=client,
        starts_at=starts_at,
        duration_minutes=duration_minutes,
        exclude_pk=exclude_pk,
    )
    if clashes:
        raise ValidationError(
            [describe_clash(s, trainer=trainer, client=client) for s in clashes], code="clash"
        )


def _validate_fields(session: Session):
    # Field validators (duration range) with clear messages before touching the DB.
    session.full_clean(exclude=["trainer", "client"], validate_unique=False, validate_constraints=False)


def session_book(
    *,
    trainer,
    client,
    starts_at: datetime,
    duration_minutes: int = 60,
    location: str = "",
    notes: str = "",
    series=None,
    allow_past: bool = False,
    booked_by: str = Session.BookedBy.STAFF,
    session_type=None,
) -> Session:
    session = Session(
        trainer=trainer,
        client=client,
        starts_at=starts_at,
        duration_minutes=duration_minutes,
        location=location,
        notes=notes,
        series=series,
        booked_by=booked_by,
        session_type=session_type,
    )
    return session_save(session=session, allow_past=allow_past)


def _lock_diaries(*, trainer_id, client_id, waitlist_day: date | None = None) -> bool:
    """Serialise bookings for one trainer and one client until the transaction ends.

    Without it two requests could both pass the clash check and both insert.
    Trainer first, then client: every booking takes the locks in the same order.

    With ``waitlist_day``, the trainer's lock also answers whether any of her
    waitlist requests reaches that day (True), so a booking learns that nobody waits
    for its time — the common case — without a query of its own.
    """
    trainers = get_user_model().objects.select_for_update().filter(pk=trainer_id)
    if waitlist_day is None:
        list(trainers.values_list("pk"))
        waitlisted = False
    else:
        # Windows are the clients' own days and an overlapping offer may start up to a
        # maximum session earlier: two days either side of the UTC day cover both.
        reaching = WaitlistRequest.objects.filter(
            trainer_id=OuterRef("pk"),
            from_date__lte=waitlist_day + timedelta(days=2),
            until_date__gte=waitlist_day - timedelta(days=2),
        )
        waitlisted = any(trainers.annotate(waitlisted=Exists(reaching)).values_list("waitlisted", flat=True))
    list(Client.objects.select_for_update().filter(pk=client_id).values_list("pk"))
    return waitlisted


def starts_in_the_past(session: Session, *, now: datetime | None = None) -> bool:
    """Is this a booking, or a move, to a time that has already gone?

    Editing anything else on a past session (its notes, its status) is not.
    """
    if session.starts_at >= (now or timezone.now()):
        return False
    if session.pk is None:
        return True
    stored = Session.objects.filter(pk=session.pk).values_list("starts_at", flat=True).first()
    return stored != session.starts_at


def validate_not_past(session: Session, *, allow_past: bool, now: datetime | None = None) -> None:
    if not allow_past and starts_in_the_past(session, now=now):
        raise ValidationError(
            f"{staff_datetime(session.starts_at, session.client.tzinfo)} is in the past. "
            "Confirm that the session really took place then to record it.",
            code="in_past",
        )


@transaction.atomic
def session_save(*, session: Session, allow_past: bool = False) -> Session:
    """Validate and save a new or changed session (moving it included).

    A booking or a move into the past is refused unless ``allow_past`` says the
    caller confirmed it (recording a session after the fact).
    """
    validate_start(session.starts_at)
    _validate_fields(session)
    validate_not_past(session, allow_past=allow_past)
    scheduled = session.status == Status.SCHEDULED
    waitlisted = False
    if scheduled:
        waitlisted = _lock_diaries(
            trainer_id=session.trainer_id, client_id=session.client_id, waitlist_day=session.starts_at.date()
        )
        validate_no_clash(
            trainer=session.trainer,
            client=session.client,
            starts_at=session.starts_at,
            duration_minutes=session.duration_minutes,
            exclude_pk=session.pk,
        )
    created = session.pk is None
    before = None if created else _bump_sequence_if_moved(session)
    session.save()
    moved = (
        scheduled
        and before is not None
        and before.status == Status.SCHEDULED
        and (before.starts_at, before.duration_minutes, before.trainer_id)
        != (session.starts_at, session.duration_minutes, session.trainer_id)
    )
    if moved:
        session_moved.send(
            Session,
            session=session,
            old_starts_at=before.starts_at,
            old_duration_minutes=before.duration_minutes,
            old_trainer_id=before.trainer_id,
        )
    if scheduled and (created or moved):
        _time_taken(session, created=created, waitlisted=waitlisted)
    return session


def _time_taken(session: Session, *, created: bool, waitlisted: bool) -> None:
    """A scheduled session holds its time now: a waiting client who booked anyway stops
    waiting, and the layers above hear of it (offers of that time are taken)."""
    # scheduling.waitlist builds on this module (find_clashes, booking): imported here, a cycle.
    from scheduling import waitlist

    request_ids = []
    if waitlisted:
        request_ids = waitlist.requests_reaching(session)
        if created:
            waitlist.waitlist_booked_anyway(session=session, request_ids=request_ids)
    session_time_taken.send(Session, session=session, created=created, waitlist_request_ids=request_ids)


@dataclass(frozen=True)
class _Stored:
    starts_at: datetime
    duration_minutes: int
    trainer_id: int
    status: str


def _bump_sequence_if_moved(session: Session) -> _Stored | None:
    """A new time is a new version of the event for calendars (iCalendar SEQUENCE).

    Read from the locked row, so two moves at once still give two numbers. Returns
    the row as it was (what a move freed), None when there is none.
    """
    before = (
        Session.objects.select_for_update()
        .filter(pk=session.pk)
        .values_list("starts_at", "duration_minutes", "trainer_id", "status", "sequence")
        .first()
    )
    if before is None:
        return None
    stored = _Stored(*before[:4])
    moved = (stored.starts_at, stored.duration_minutes) != (session.starts_at, session.duration_minutes)
    session.sequence = before[4] + moved
    return stored


@dataclass
class SeriesResult:
    series: object
    booked: list = field(default_factory=list)
    clashes: list = field(default_factory=list)  # (starts_at, [messages])


@transaction.atomic
def session_book_weekly_series(
    *,
    trainer,
    client,
    first_starts_at: datetime,
    occurrences: int,
    duration_minutes: int = 60,
    location: str = "",
    notes: str = "",
    allow_past: bool = False,
) -> SeriesResult:
    """Book one session a week; report the weeks that clash instead of skipping them quietly.

    Weeks are counted on the trainer's own wall clock (her zone, by default the
    studio's): a 07:00 class stays at 07:00 in her diary across a daylight-saving
    change, even when the studio or the client changes clocks on another date.
    The series commits as a whole, so whoever hears of its first session (the one
    booking confirmation) sees every week of it.
    """
    if occurrences < 1 or occurrences > 104:
        raise ValidationError("A series has between 1 and 104 weekly sessions.", code="occurrences")
    # A bad duration or start is wrong for every week: refuse it once rather
    # than report it as N "clashes".
    validate_start(first_starts_at)
    validate_start(first_starts_at + timedelta(weeks=occurrences))
    # The same for every week.
    details = {
        "trainer": trainer,
        "client": client,
        "duration_minutes": duration_minutes,
        "location": location,
        "notes": notes,
    }
    _validate_fields(Session(starts_at=first_starts_at, **details))
    if not allow_past and first_starts_at < timezone.now():
        raise ValidationError(
            f"The first session, {staff_datetime(first_starts_at, client.tzinfo)}, is in the past. "
            "Confirm that the sessions really took place then to record them.",
            code="in_past",
        )
    result = SeriesResult(series=new_series_id())
    tz = staff_tz(trainer)
    for week in range(occurrences):
        starts_at = same_wall_clock(first_starts_at, tz, weeks=week)
        try:
            session = session_book(
                starts_at=starts_at, series=result.series, allow_past=allow_past, **details
            )
        except ValidationError as exc:
            result.clashes.append((starts_at, exc.messages))
        else:
            result.booked.append(session)
    return result


def same_wall_clock(moment: datetime, tz, *, weeks: int = 0, days: int = 0) -> datetime:
    """``moment`` shifted by whole weeks/days on ``tz``'s wall clock (09:00 stays 09:00 across DST)."""
    if not weeks and not days:
        return moment
    local = moment.astimezone(tz).replace(tzinfo=None) + timedelta(weeks=weeks, days=days)
    # fold=0: a wall time that happens twice (clocks going back) means the first.
    return local.replace(tzinfo=tz).astimezone(UTC)


def session_update(*, session: Session, allow_past: bool = False, **changes) -> Session:
    for name, value in changes.items():
        setattr(session, name, value)
    return session_save(session=session, allow_past=allow_past)


ALLOWED_TRANSITIONS = {
    Status.SCHEDULED: {Status.COMPLETED, Status.CANCELLED, Status.NO_SHOW},
    Status.COMPLETED: {Status.NO_SHOW},
    Status.NO_SHOW: {Status.COMPLETED},
    Status.CANCELLED: set(),
}


HAPPENED = {Status.COMPLETED, Status.NO_SHOW}


@transaction.atomic
def _transition(session: Session, new_status: str, *, now: datetime | None = None, **extra) -> Session:
    old_status = locked_transition(session, new_status, ALLOWED_TRANSITIONS)
    if new_status in HAPPENED and session.starts_at > (now or timezone.now()):
        raise ValidationError(
            f"This session has not started yet (it starts {staff_datetime(session.starts_at)}): "
            f"it cannot be marked {Status(new_status).label.lower()} before then.",
            code="not_started",
        )
    session.status = new_status
    for name, value in extra.items():
        setattr(session, name, value)
    # save(): a status change is an event automation listens for.
    session.save(update_fields=["status", "updated_at", *extra])
    session_status_changed.send(Session, session=session, old_status=old_status, new_status=new_status)
    return session


def session_mark_completed(*, session: Session, now: datetime | None = None) -> Session:
    return _transition(session, Status.COMPLETED, now=now)


def session_mark_no_show(*, session: Session, now: datetime | None = None) -> Session:
    return _transition(session, Status.NO_SHOW, now=now)


def session_cancel(*, session: Session, by: str = Session.CancelledBy.STAFF, reason: str = "") -> Session:
    return _transition(
        session, Status.CANCELLED, cancelled_at=timezone.now(), cancelled_by=by, cancel_reason=reason[:500]
    )


def session_confirm(*, session: Session) -> Session:
    if session.status != Status.SCHEDULED:
        raise ValidationError("Only a scheduled session can be confirmed.", code="invalid_transition")
    if not session.confirmed_at:
        session.confirmed_at = timezone.now()
        Session.objects.filter(pk=session.pk).update(confirmed_at=session.confirmed_at)
    return session


# --- A weekly series as a whole ---------------------------------------------------


@dataclass
class SeriesChange:
    """What a change to "this and all following" did, occurrence by occurrence.

    Enough for whoever tells the client (one message per series, not per session):
    the series id, and for each occurrence its old and new start.
    """

    series: object
    action: str  # "cancel" or "move"
    #: (session as it is now, its start before the change)
    changed: list = field(default_factory=list)
    #: (session, the start it was to have, [reasons]): left as it was
    failed: list = field(default_factory=list)

    @property
    def dates(self) -> list[datetime]:
        """The starts of the changed occurrences (new starts after a move)."""
        return [session.starts_at for session, _ in self.changed]


def series_following(session: Session):
    """Scheduled occurrences of ``session``'s series from it on, in order (``session`` included)."""
    if session.series is None:
        raise ValidationError("This session is not part of a series.", code="no_series")
    return (
        Session.objects.filter(
            series=session.series, status=Status.SCHEDULED, starts_at__gte=session.starts_at
        )
        .select_related("client", "trainer")
        .order_by("starts_at")
    )


def series_cancel_following(*, session: Session, by: str = Session.CancelledBy.STAFF) -> SeriesChange:
    """Cancel this occurrence and every later scheduled one of its series."""
    result = SeriesChange(series=session.series, action="cancel")
    for occurrence in series_following(session):
        try:
            session_cancel(session=occurrence, by=by)
        except ValidationError as exc:
            # Someone else changed it a moment ago (completed, cancelled): say so, go on.
            result.failed.append((occurrence, occurrence.starts_at, exc.messages))
        else:
            result.changed.append((occurrence, occurrence.starts_at))
    return result


def moved_start(starts_at: datetime, tz, *, new_time=None, weekday: int | None = None) -> datetime:
    """``starts_at`` at ``new_time`` of day and/or on ``weekday`` (0 = Monday) of the same week, on ``tz``'s clock."""
    local = starts_at.astimezone(tz)
    day = local.date()
    if weekday is not None:
        day += timedelta(days=weekday - local.weekday())
    wall = datetime.combine(day, new_time if new_time is not None else local.time().replace(tzinfo=None))
    return wall.replace(tzinfo=tz).astimezone(UTC)


def series_move_following(*, session: Session, new_time=None, weekday: int | None = None) -> SeriesChange:
    """Move this occurrence and every later scheduled one to a new time of day and/or weekday.

    Times are the trainer's wall clock, as the series was booked. Each occurrence
    is clash-checked and saved on its own: one that clashes (or would land in the
    past) stays where it was and is listed in ``failed`` with the reason.
    """
    if new_time is None and weekday is None:
        raise ValidationError("Choose a new time of day, a new weekday, or both.", code="nothing_to_move")
    if weekday is not None and not 0 <= weekday <= 6:
        raise ValidationError("The weekday is 0 (Monday) to 6 (Sunday).", code="weekday")
    result = SeriesChange(series=session.series, action="move")
    tz = staff_tz(session.trainer)
    for occurrence in series_following(session):
        before = occurrence.starts_at
        wanted = moved_start(before, tz, new_time=new_time, weekday=weekday)
        if wanted == before:
            continue
        try:
            session_update(session=occurrence, starts_at=wanted)
        except ValidationError as exc:
            occurrence.starts_at = before
            result.failed.append((occurrence, wanted, exc.messages))
        else:
            result.changed.append((occurrence, before))
    return result
