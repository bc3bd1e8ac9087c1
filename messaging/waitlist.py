"""Freed times offered to waiting clients: one offer each, by the channel they chose.

A cancellation (``scheduling.signals.session_status_changed`` to cancelled, sent by
``session_cancel``, which every road that cancels goes through) enqueues ``offer_freed_slot`` after commit. It asks scheduling which
waiting requests the freed time suits (``scheduling.waitlist``), then writes one
``SlotOffer`` and its message per request in one transaction. The unique
(request, start) row is the once-only guard: a retried task, two workers, or a
later cancellation of the same time offer nothing twice.

The message is a notice the client asked for (the transactional category): the
outbox checks their consent again when it sends, holds an SMS during their quiet
hours, and suppresses it if the hold would outlast the last moment the time can
be booked (``not_after``).
"""

import logging
from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from clients.models import Category, Channel
from common.queue import enqueue
from common.timefmt import client_time
from messaging.links import offer_link, waitlist_link
from messaging.models import SlotOffer
from messaging.services import send_message
from scheduling import waitlist
from scheduling.models import Session
from scheduling.signals import session_status_changed

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


def connect():
    session_status_changed.connect(
        queue_offers, sender=Session, dispatch_uid="messaging.waitlist.queue_offers"
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


def offer_freed_slot(*, session_id: int, now: datetime | None = None) -> list[SlotOffer]:
    """Offer the time session ``session_id`` freed to each waiting client it suits, once.

    Returns the offers made by this call (none for a re-run).
    """
    now = now or timezone.now()
    session = Session.objects.select_related("trainer").filter(pk=session_id).first()
    if session is None:
        return []
    made = []
    with transaction.atomic():
        for slot in waitlist.freed_slot_candidates(session=session, now=now):
            request = slot.request
            if not request.client.can_receive(request.channel, Category.TRANSACTIONAL):
                logger.info("waitlist request %s: cannot reach the client by %s", request.pk, request.channel)
                continue
            try:
                # A savepoint: on PostgreSQL a concurrent run waits here for the other's
                # commit, then finds the row taken.
                with transaction.atomic():
                    offer = SlotOffer.objects.create(
                        request=request,
                        freed_session=session,
                        session_type=slot.session_type,
                        starts_at=slot.starts_at,
                        duration_minutes=slot.session_type.duration_minutes,
                    )
            except IntegrityError:
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
