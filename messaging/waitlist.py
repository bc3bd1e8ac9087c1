"""Freed times offered to waiting clients: one offer each, by the channel they chose.

A cancellation (``scheduling.signals.session_status_changed`` to cancelled, sent by
``session_cancel``, which every road that cancels goes through) or a move
(``session_moved``, sent by ``session_save``, which every road that moves goes
through: the portal's reschedule, the calendar, the admin, a series moved) enqueues
``offer_freed_slot`` after commit. It asks scheduling which waiting requests the
freed time suits (``scheduling.waitlist``), then writes one ``SlotOffer`` and its
message per request in one transaction. The unique (request, start) row is the
once-only guard: a retried task, two workers, or a later cancellation of the same
time offer nothing twice (a time freed again reopens the offers it had: the link
the client has works again).

When a session takes a time again — booked on the ordinary page, by staff, or moved
there (``session_time_taken``) — the open offers that overlap it are marked taken in
the same transaction. Scheduling sends the ids of the requests whose window reaches
that day, found by the query that locks the trainer's diary: with none (nearly
every booking) nothing here runs a query.

The message is a notice the client asked for (the transactional category): the
outbox checks their consent again when it sends, holds an SMS during their quiet
hours, and suppresses it if the hold would outlast the last moment the time can
be booked (``not_after``).
"""

import logging
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from clients.models import Category, Channel
from common.queue import enqueue
from common.timefmt import client_time
from messaging.links import offer_link, waitlist_link
from messaging.models import SlotOffer
from messaging.services import send_message
from scheduling import booking, waitlist
from scheduling.models import MAX_DURATION_MINUTES, Session
from scheduling.signals import session_moved, session_status_changed, session_time_taken

logger = logging.getLogger(__name__)

OFFER_TASK = "messaging.tasks.offer_freed_slot"


def queue_offers(sender, session, new_status, **kwargs):
    """Thin receiver: after a cancellation commits, queue the offers (a rollback queues nothing)."""
    if new_status != Session.Status.CANCELLED:
        return
    session_id = session.pk
    transaction.on_commit(
        lambda: enqueue(
            OFFER_TASK, session_id=session_id, task_name=f"waitlist: offers for session {session_id}"
        ),
        robust=True,
    )


def queue_offers_for_move(sender, session, old_starts_at, old_duration_minutes, old_trainer_id, **kwargs):
    """Thin receiver: after a move commits, queue offers of the time it left."""
    session_id = session.pk
    moved_from = {
        "starts_at": old_starts_at.isoformat(),
        "duration_minutes": old_duration_minutes,
        "trainer_id": old_trainer_id,
    }
    transaction.on_commit(
        lambda: enqueue(
            OFFER_TASK,
            session_id=session_id,
            moved_from=moved_from,
            task_name=f"waitlist: offers for session {session_id}, moved from {moved_from['starts_at']}",
        ),
        robust=True,
    )


def mark_taken(sender, session, waitlist_request_ids, **kwargs):
    """Thin receiver: a session holds this time now; its open offers are taken (in the same transaction)."""
    if waitlist_request_ids:
        offers_taken(session=session, request_ids=waitlist_request_ids)


def connect():
    session_status_changed.connect(
        queue_offers, sender=Session, dispatch_uid="messaging.waitlist.queue_offers"
    )
    session_moved.connect(
        queue_offers_for_move, sender=Session, dispatch_uid="messaging.waitlist.queue_offers_for_move"
    )
    session_time_taken.connect(mark_taken, sender=Session, dispatch_uid="messaging.waitlist.mark_taken")


def offers_taken(*, session: Session, request_ids, now: datetime | None = None) -> int:
    """Open offers of these requests whose time overlaps ``session``'s become taken.

    Whoever took it: staff, the booking page, a move, or another client's offer (whose
    own offer then becomes booked). Returns how many.
    """
    now = now or timezone.now()
    nearby = SlotOffer.objects.filter(
        request_id__in=request_ids,
        status=SlotOffer.Status.OPEN,
        starts_at__lt=session.ends_at,
        starts_at__gt=session.starts_at - timedelta(minutes=MAX_DURATION_MINUTES),
    ).values_list("pk", "starts_at", "duration_minutes")
    overlapping = [
        pk for pk, starts_at, minutes in nearby if starts_at + timedelta(minutes=minutes) > session.starts_at
    ]
    if not overlapping:
        return 0
    return SlotOffer.objects.filter(pk__in=overlapping, status=SlotOffer.Status.OPEN).update(
        status=SlotOffer.Status.TAKEN, updated_at=now
    )


def _day(moment: datetime, tz) -> str:
    local = moment.astimezone(tz)
    return f"{local:%a} {local.day} {local:%b}"


def offer_text(offer: SlotOffer, *, link: str, withdraw_link: str) -> tuple[str, str]:
    """(subject, body) of the offer, on the client's clock."""
    request = offer.request
    client = request.client
    tz = client.tzinfo
    when = f"{_day(offer.starts_at, tz)}, {client_time(offer.starts_at, tz)}"
    trainer = request.trainer.first_name or "your trainer"
    what = f"{offer.session_type.name}, {offer.duration_minutes} min"
    if request.channel == Channel.SMS:
        body = f"Hi {client.first_name}, a time just opened up with {trainer}: {when} ({what}). First to book gets it: {link}"
        return "", body
    location = f", {offer.session_type.location}" if offer.session_type.location else ""
    body = (
        f"Hi {client.first_name},\n\n"
        f"You asked us to tell you when a time opens up with {trainer}. One just did:\n\n"
        f"{when} — {what}{location}\n\n"
        f"The first to book it gets it: {link}\n\n"
        f"No longer looking? Stop these offers on your page: {withdraw_link}\n"
    )
    return f"A time opened up: {when}", body


def offer_freed_slot(
    *, session_id: int, moved_from: dict | None = None, now: datetime | None = None
) -> list[SlotOffer]:
    """Offer the time session ``session_id`` freed to each waiting client it suits, once.

    The cancelled session's own time, or with ``moved_from`` ({starts_at: ISO,
    duration_minutes, trainer_id}) the time a move left. Returns the offers made by
    this call (none for a re-run).
    """
    now = now or timezone.now()
    session = Session.objects.select_related("trainer").filter(pk=session_id).first()
    if session is None:
        return []
    freed = None
    if moved_from is not None:
        freed = waitlist.FreedTime(
            trainer_id=moved_from["trainer_id"],
            starts_at=datetime.fromisoformat(moved_from["starts_at"]),
            duration_minutes=moved_from["duration_minutes"],
        )
    made = []
    with transaction.atomic():
        booking.lock_trainer_diary(freed.trainer_id if freed else session.trainer_id)
        for slot in waitlist.freed_slot_candidates(session=session, moved_from=freed, now=now):
            request = slot.request
            if not request.client.can_receive(request.channel, Category.TRANSACTIONAL):
                logger.info("waitlist request %s: cannot reach the client by %s", request.pk, request.channel)
                continue
            try:
                # A savepoint: the unique row is the guard (a concurrent run of the same
                # trainer already waits at the diary lock, then finds the rows made).
                with transaction.atomic():
                    offer = SlotOffer.objects.create(
                        request=request,
                        freed_session=session,
                        session_type=slot.session_type,
                        starts_at=slot.starts_at,
                        duration_minutes=slot.session_type.duration_minutes,
                    )
            except IntegrityError:
                # Offered before, and free again: the link the client has works again
                # (no second message — once per request and time).
                SlotOffer.objects.filter(
                    request=request, starts_at=slot.starts_at, status=SlotOffer.Status.TAKEN
                ).update(status=SlotOffer.Status.OPEN, updated_at=now)
                continue
            subject, body = offer_text(
                offer, link=offer_link(offer), withdraw_link=waitlist_link(request.client)
            )
            offer.message = send_message(
                client=request.client,
                channel=request.channel,
                subject=subject,
                body=body,
                category=Category.TRANSACTIONAL,
                not_after=slot.bookable_until,
            )
            SlotOffer.objects.filter(pk=offer.pk).update(message=offer.message)
            made.append(offer)
    return made
