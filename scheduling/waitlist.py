"""Clients waiting for a time to open up, and which freed times suit whom.

A client who may book online asks to be told when a time opens up with their
trainer in a window of days (``waitlist_join``). When one of the trainer's
sessions is cancelled, ``freed_slot_candidates`` says, for each waiting request,
whether the freed time is one the client could book right now — the same
``free_slots`` the booking page lists, so notice, horizon, buffers and the daily
limit all apply — and at which start and with which session type. Sending the
offers is the messaging app's job (``messaging.waitlist``); booking one goes
through ``booking.client_book_session`` like any other portal booking.
"""

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
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


# --- A session was cancelled: whom does the freed time suit? -----------------------------


@dataclass(frozen=True)
class FreedSlot:
    """A start the client of ``request`` can book now, with this type."""

    request: WaitlistRequest
    session_type: SessionType
    starts_at: datetime
    #: The last moment it can be booked (the trainer's minimum notice before the start).
    bookable_until: datetime


def freed_slot_candidates(*, session: Session, now: datetime | None = None) -> list[FreedSlot]:
    """For each waiting request the cancelled ``session``'s time suits, the slot to offer.

    A request is offered the freed time when its client may book online, has not
    cancelled it themselves, has nothing else at that time, the slot's day (their
    calendar) is in the window, and a start within the freed time is one of the
    trainer's free slots now for the request's type (the cancelled start itself
    when it is). A request without a type gets the cancelled session's type if the
    client may book it, else the longest bookable type that fits.
    """
    now = now or timezone.now()
    if (
        not settings.PORTAL_SELF_BOOKING
        or session.status != Session.Status.CANCELLED
        or session.starts_at <= now
    ):
        return []
    day = session.starts_at.date()
    requests = list(
        WaitlistRequest.objects.filter(
            status=Status.WAITING,
            trainer_id=session.trainer_id,
            client__trainer_id=session.trainer_id,
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
        hours=Availability.objects.filter(trainer_id=session.trainer_id)
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
                trainer=session.trainer_id,
                duration_minutes=duration,
                start=session.starts_at,
                end=session.ends_at,
                now=now,
            )
            starts[duration] = (
                session.starts_at if session.starts_at in found else (found[0] if found else None)
            )
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
                trainer=session.trainer_id,
                client=client,
                starts_at=starts_at,
                duration_minutes=session_type.duration_minutes,
            ):
                continue
            found.append(FreedSlot(request, session_type, starts_at, bookable_until=starts_at - notice))
            break
    return found
