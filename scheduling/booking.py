"""Clients booking and moving their own sessions (the portal calls these).

The same clash rules as staff bookings (``services.session_book`` /
``session_update``), plus the trainer's availability: a slot is booked only if
it is still one of ``free_slots`` once the trainer's diary is locked. Two
clients posting the same slot at once are serialised on the trainer's row; the
second finds the slot gone and gets ``SlotTaken``.
"""

from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from clients.models import Client
from scheduling import services
from scheduling.availability import free_slots, is_free_slot
from scheduling.models import Session, SessionType

#: How far ahead the portal lists slots at most (the trainer's horizon may be shorter).
LISTED_DAYS = 28


class SlotTaken(ValidationError):
    """Someone else booked the slot a moment ago (or it stopped being free)."""

    def __init__(self):
        super().__init__("Sorry, that time was just taken. Here are the times still free.", code="taken")


def self_booking_refusal(client: Client) -> str | None:
    """Why this client may not book online, or None if they may."""
    if not settings.PORTAL_SELF_BOOKING:
        return "Online booking is not available. Please contact your trainer to book."
    if not client.self_booking:
        return "Please contact your trainer to book a session."
    if client.status == Client.Status.INACTIVE:
        return "Your account is not active. Please contact the studio to book."
    return None


def bookable_types(client: Client):
    """Session types the client may book with their own trainer: hers and the studio's."""
    return SessionType.objects.filter(is_active=True, client_bookable=True).filter(
        Q(trainer_id=client.trainer_id) | Q(trainer__isnull=True)
    )


def listed_slots(*, client: Client, duration_minutes: int, now=None, exclude_pk=None) -> list[datetime]:
    """The trainer's free slots the portal offers: from now to the horizon (at most ``LISTED_DAYS``)."""
    now = now or timezone.now()
    return free_slots(
        trainer=client.trainer_id,
        duration_minutes=duration_minutes,
        start=now,
        end=now + timedelta(days=LISTED_DAYS),
        now=now,
        exclude_pk=exclude_pk,
    )


def _refuse_if_not_allowed(client: Client) -> None:
    refusal = self_booking_refusal(client)
    if refusal:
        raise ValidationError(refusal, code="not_allowed")


def lock_diary(client: Client) -> None:
    """Lock the client's trainer's diary (and the client's) until the transaction ends.

    The same lock session_save takes, taken *before* the free-slot check, so the
    check and the insert see the same diary. Whoever books for a client takes it
    first, before any row of its own (a waitlist offer), so locks never cross.
    """
    services._lock_diaries(trainer_id=client.trainer_id, client_id=client.pk)


def lock_trainer_diary(trainer_id: int) -> None:
    """Lock one trainer's diary until the transaction ends, as every booking does first.

    The waitlist's offer run takes it before asking which times are free, so a booking
    cannot land between that check and the offers (which it then marks taken).
    """
    list(get_user_model().objects.select_for_update().filter(pk=trainer_id).values_list("pk"))


@transaction.atomic
def client_book_session(*, client: Client, session_type_id: int, starts_at: datetime, now=None) -> Session:
    """Book ``starts_at`` for the client with their trainer, as the client."""
    _refuse_if_not_allowed(client)
    session_type = bookable_types(client).filter(pk=session_type_id).first()
    if session_type is None:
        raise ValidationError("Choose a session type first.", code="no_type")
    lock_diary(client)
    if not is_free_slot(
        trainer=client.trainer_id,
        duration_minutes=session_type.duration_minutes,
        starts_at=starts_at,
        now=now,
    ):
        raise SlotTaken()
    return services.session_book(
        trainer=client.trainer,
        client=client,
        starts_at=starts_at,
        duration_minutes=session_type.duration_minutes,
        location=session_type.location,
        booked_by=Session.BookedBy.CLIENT,
        session_type=session_type,
    )


def reschedule_deadline(session: Session, *, notice_hours: int | None = None) -> datetime:
    """The cancellation policy's deadline: later than this, only the studio moves a session.

    ``notice_hours``: the studio's late-cancel window (billing's policy, which the portal
    reads and passes down); ``CANCELLATION_NOTICE_HOURS`` when not given.
    """
    hours = settings.CANCELLATION_NOTICE_HOURS if notice_hours is None else notice_hours
    return session.starts_at - timedelta(hours=hours)


def can_reschedule(session: Session, *, now=None, notice_hours: int | None = None) -> bool:
    return session.status == Session.Status.SCHEDULED and (now or timezone.now()) < reschedule_deadline(
        session, notice_hours=notice_hours
    )


@transaction.atomic
def client_reschedule_session(
    *, client: Client, session_id: int, starts_at: datetime, now=None, notice_hours: int | None = None
) -> Session:
    """Move one of the client's sessions to another free slot (outside the notice window).

    Through ``session_update``, so its reminders follow (automation keys them to the
    start) and calendars get a new version. Raises ``Session.DoesNotExist`` for a
    session that is not this client's.
    """
    _refuse_if_not_allowed(client)
    session = (
        Session.objects.select_for_update()
        .select_related("client", "trainer")
        .get(pk=session_id, client=client)
    )
    if not can_reschedule(session, now=now, notice_hours=notice_hours):
        hours = settings.CANCELLATION_NOTICE_HOURS if notice_hours is None else notice_hours
        raise ValidationError(
            f"It is too late to move this session online: changes are possible up to {hours} hours "
            "before the start.",
            code="notice_period",
        )
    lock_diary(client)
    if not is_free_slot(
        trainer=session.trainer_id,
        duration_minutes=session.duration_minutes,
        starts_at=starts_at,
        now=now,
        exclude_pk=session.pk,
    ):
        raise SlotTaken()
    return services.session_update(session=session, starts_at=starts_at)
