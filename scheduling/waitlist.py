"""Clients waiting for a time to open up, and which freed times suit whom.

A client who may book online asks to be told when a time opens up with their
trainer in a window of days (``waitlist_join``). When one of the trainer's
sessions is cancelled or moved, ``freed_slot_candidates`` says, for each waiting
request, whether the freed time is one the client could book right now — the same
``free_slots`` the booking page lists, so notice, horizon, buffers and the daily
limit all apply — and at which start and with which session type. Sending the
offers is the messaging app's job (``messaging.waitlist``); booking one goes
through ``booking.client_book_session`` like any other portal booking.

A request ends when the client books a session inside their window any other way
too (the booking page, or staff for them: ``waitlist_booked_anyway``, called by
``services.session_save``); a deleted session frees nothing to offer (the admin's
delete is for a session entered by mistake; one that will not happen is cancelled).
"""

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from clients.models import Category, Channel, Client
from scheduling import booking
from scheduling.availability import free_slots
from scheduling.models import Availability, Session, SessionType, WaitlistRequest
from scheduling.services import find_clashes

Status = WaitlistRequest.Status

#: Channels a client may choose to be told on, fastest first.
OFFER_CHANNELS = (Channel.SMS, Channel.EMAIL)


def client_today(client: Client, *, now: datetime | None = None) -> date:
    return (now or timezone.now()).astimezone(client.tzinfo).date()


def offer_channels(client: Client) -> list[str]:
    """The channels the client can be told on now (a notice: reminders consent)."""
    return [c for c in OFFER_CHANNELS if client.can_receive(c, Category.TRANSACTIONAL)]


def last_window_day(client: Client, *, now: datetime | None = None) -> date | None:
    """The last day a window may reach: the trainer's booking horizon; None without availability."""
    horizon = (
        Availability.objects.filter(trainer_id=client.trainer_id)
        .values_list("horizon_days", flat=True)
        .first()
    )
    if horizon is None:
        return None
    return ((now or timezone.now()) + timedelta(days=horizon)).astimezone(client.tzinfo).date()


def waiting_request(client: Client, *, now: datetime | None = None) -> WaitlistRequest | None:
    """The client's waiting request whose window has not passed, if any."""
    return (
        client.waitlist_requests.filter(status=Status.WAITING, until_date__gte=client_today(client, now=now))
        .select_related("session_type")
        .first()
    )


@transaction.atomic
def waitlist_join(
    *,
    client: Client,
    from_date: date,
    until_date: date,
    channel: str,
    session_type_id: int | None = None,
    now: datetime | None = None,
) -> WaitlistRequest:
    """Ask to be told when a time opens up between two of the client's days (both included).

    A waiting request of the same client is withdrawn first: a client waits once.
    """
    refusal = booking.self_booking_refusal(client)
    if refusal:
        raise ValidationError(refusal, code="not_allowed")
    today = client_today(client, now=now)
    last_day = last_window_day(client, now=now)
    if last_day is None:
        raise ValidationError("Your trainer does not take online bookings yet.", code="no_availability")
    if from_date < today:
        raise ValidationError("Choose a first day from today on.", code="past")
    if until_date < from_date:
        raise ValidationError("The last day comes after the first day.", code="order")
    if until_date > last_day:
        raise ValidationError(
            f"Sessions can be booked up to {last_day:%A} {last_day.day} {last_day:%B}: choose a last day until then.",
            code="horizon",
        )
    session_type = None
    if session_type_id is not None:
        session_type = booking.bookable_types(client).filter(pk=session_type_id).first()
        if session_type is None:
            raise ValidationError("That session type cannot be booked online.", code="no_type")
    if channel not in offer_channels(client):
        raise ValidationError(
            "We cannot reach you that way: choose another, or turn on its reminders.", code="channel"
        )
    # Lock the client's row: two requests at once must not both find nothing waiting.
    Client.objects.select_for_update().filter(pk=client.pk).values_list("pk").first()
    _end(client.waitlist_requests.filter(status=Status.WAITING), Status.WITHDRAWN, now=now)
    return WaitlistRequest.objects.create(
        client=client,
        trainer_id=client.trainer_id,
        session_type=session_type,
        from_date=from_date,
        until_date=until_date,
        channel=channel,
    )


def _end(requests, status: str, *, now=None, **extra) -> int:
    now = now or timezone.now()
    return requests.filter(status=Status.WAITING).update(status=status, ended_at=now, updated_at=now, **extra)


def waitlist_withdraw(*, client: Client, request_id: int, now: datetime | None = None) -> bool:
    """The client no longer wants offers. False when there was nothing waiting to withdraw."""
    return bool(_end(client.waitlist_requests.filter(pk=request_id), Status.WITHDRAWN, now=now))


def waitlist_staff_withdraw(*, requests, now: datetime | None = None) -> int:
    """Staff withdraw requests for their clients (the admin's action)."""
    return _end(requests, Status.WITHDRAWN, now=now)


def waitlist_booked(*, request: WaitlistRequest, session: Session, now: datetime | None = None) -> bool:
    """The client booked a time offered to this request: no more offers for it."""
    return bool(
        _end(WaitlistRequest.objects.filter(pk=request.pk), Status.BOOKED, now=now, booked_session=session)
    )


def requests_reaching(session: Session) -> list[int]:
    """Ids of the trainer's requests (any status) whose window reaches the session's day.

    Whose offers a booking at that time may take; two days either side of the UTC day,
    as ``services._lock_diaries`` guards.
    """
    day = session.starts_at.date()
    return list(
        WaitlistRequest.objects.filter(
            trainer_id=session.trainer_id,
            from_date__lte=day + timedelta(days=2),
            until_date__gte=day - timedelta(days=2),
        ).values_list("pk", flat=True)
    )


def waitlist_booked_anyway(*, session: Session, request_ids, now: datetime | None = None) -> bool:
    """The waiting client booked ``session`` another way (the booking page, or staff): stop looking.

    A new session with the trainer they wait for, on a day of their window (their
    calendar), still ahead, ends the request as booked — of the type they asked for,
    or one staff booked without a type. Booking was what they waited for; a client who
    wants a second session that week asks again. Moving a session they already had
    does not count: they asked while having it. False when nothing was waiting.
    """
    now = now or timezone.now()
    if session.starts_at <= now:
        return False  # recording a session after the fact is not booking one
    day = session.starts_at.astimezone(session.client.tzinfo).date()
    requests = WaitlistRequest.objects.filter(
        pk__in=request_ids,
        client_id=session.client_id,
        trainer_id=session.trainer_id,
        from_date__lte=day,
        until_date__gte=day,
    )
    if session.session_type_id is not None:
        requests = requests.filter(Q(session_type__isnull=True) | Q(session_type_id=session.session_type_id))
    return bool(_end(requests, Status.BOOKED, now=now, booked_session=session))


def stopped_looking(client: Client, *, now: datetime | None = None) -> WaitlistRequest | None:
    """The client's request that ended with an upcoming booking, for the portal to say so."""
    return (
        client.waitlist_requests.filter(
            status=Status.BOOKED,
            booked_session__status=Session.Status.SCHEDULED,
            booked_session__starts_at__gt=now or timezone.now(),
        )
        .select_related("booked_session")
        .first()
    )


# --- A session was cancelled or moved: whom does the freed time suit? ---------------------


@dataclass(frozen=True)
class FreedSlot:
    """A start the client of ``request`` can book now, with this type."""

    request: WaitlistRequest
    session_type: SessionType
    starts_at: datetime
    #: The last moment it can be booked (the trainer's minimum notice before the start).
    bookable_until: datetime


@dataclass(frozen=True)
class FreedTime:
    """The time a session gave up: its own when cancelled, the old one when moved."""

    trainer_id: int
    starts_at: datetime
    duration_minutes: int

    @property
    def ends_at(self) -> datetime:
        return self.starts_at + timedelta(minutes=self.duration_minutes)


def freed_slot_candidates(
    *, session: Session, moved_from: FreedTime | None = None, now: datetime | None = None
) -> list[FreedSlot]:
    """For each waiting request the time ``session`` freed suits, the slot to offer.

    The freed time is the cancelled session's own, or ``moved_from`` — where a moved
    session was (its start, length and trainer before the move).

    A request is offered the freed time when its client may book online, is not the
    session's client (who cancelled or moved it), has nothing else at that time, the
    slot's day (their calendar) is in the window, and a start within the freed time
    is one of the trainer's free slots now for the request's type (the freed start
    itself when it is). A request without a type gets the session's type if the
    client may book it, else the longest bookable type that fits.
    """
    now = now or timezone.now()
    if not settings.PORTAL_SELF_BOOKING:
        return []
    if moved_from is None:
        if session.status != Session.Status.CANCELLED:
            return []
        freed = FreedTime(session.trainer_id, session.starts_at, session.duration_minutes)
    else:
        # Whatever happened since (moved back, booked by someone), free_slots below says
        # whether the time is still free.
        freed = moved_from
    if freed.starts_at <= now:
        return []
    day = freed.starts_at.date()
    requests = list(
        WaitlistRequest.objects.filter(
            status=Status.WAITING,
            trainer_id=freed.trainer_id,
            client__trainer_id=freed.trainer_id,
            client__self_booking=True,
            # A day either side: the window is in each client's own calendar.
            from_date__lte=day + timedelta(days=1),
            until_date__gte=day - timedelta(days=1),
        )
        .exclude(client__status=Client.Status.INACTIVE)
        .exclude(client_id=session.client_id)
        .select_related("client", "session_type", "trainer")
        .order_by("created_at", "pk")
    )
    if not requests:
        return []
    notice = timedelta(
        hours=Availability.objects.filter(trainer_id=freed.trainer_id)
        .values_list("minimum_notice_hours", flat=True)
        .first()
        or 0
    )
    # Every waiting client has this trainer, so they may book the same types.
    bookable = list(booking.bookable_types(requests[0].client).order_by("-duration_minutes", "name", "pk"))
    starts = {}

    def first_start(duration: int) -> datetime | None:
        if duration not in starts:
            found = free_slots(
                trainer=freed.trainer_id,
                duration_minutes=duration,
                start=freed.starts_at,
                end=freed.ends_at,
                now=now,
            )
            starts[duration] = freed.starts_at if freed.starts_at in found else (found[0] if found else None)
        return starts[duration]

    found = []
    for request in requests:
        client = request.client
        if request.session_type_id is not None:
            types = [t for t in bookable if t.pk == request.session_type_id]
        else:
            types = [t for t in bookable if t.pk == session.session_type_id] + [
                t for t in bookable if t.pk != session.session_type_id
            ]
        for session_type in types:
            starts_at = first_start(session_type.duration_minutes)
            if starts_at is None:
                continue
            if not request.from_date <= starts_at.astimezone(client.tzinfo).date() <= request.until_date:
                continue
            if find_clashes(
                trainer=freed.trainer_id,
                client=client,
                starts_at=starts_at,
                duration_minutes=session_type.duration_minutes,
            ):
                continue
            found.append(FreedSlot(request, session_type, starts_at, bookable_until=starts_at - notice))
            break
    return found
