"""Stripe webhook events, applied once each: a paid Checkout Session marks its payment paid.

The view (``billing.views.stripe_webhook``) verifies the signature; this module only
ever sees events Stripe signed. Each event is stored under its unique id in the same
transaction that applies it, so a replay (Stripe retries, a copy sent again) finds the
row and changes nothing, and an event whose handling fails leaves no row and is retried.

A payment is marked paid only when the session's currency and amount are exactly the
payment's open balance at that moment; anything else (the balance changed after the
client opened Stripe's page, the payment was settled or cancelled meanwhile, an id we do
not know) is recorded with what was seen and logged as a warning, for staff to settle by
hand (usually a refund from the Stripe dashboard).
"""

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from billing.models import Payment, StripeCheckout, StripeEvent
from billing.services import payment_mark_paid
from billing.stripe_links import from_minor_units, to_minor_units
from common.ids import parse_pk

logger = logging.getLogger(__name__)

Outcome = StripeEvent.Outcome

#: The events to select for the endpoint in Stripe's dashboard (README, Money: Stripe).
PAID_EVENTS = frozenset({"checkout.session.completed", "checkout.session.async_payment_succeeded"})
EXPIRED_EVENT = "checkout.session.expired"
HANDLED_EVENTS = PAID_EVENTS | {EXPIRED_EVENT}

#: Outcomes that need a person: money arrived that FitCRM did not book.
NEEDS_ATTENTION = frozenset({Outcome.MISMATCH, Outcome.UNKNOWN_PAYMENT, Outcome.NOT_OPEN})


@dataclass
class _Result:
    outcome: str
    detail: str = ""
    payment: Payment | None = None


def stripe_event_apply(*, event: dict) -> StripeEvent | None:
    """Apply one verified event (Stripe's JSON as a dict); ``None`` when it was seen before."""
    with transaction.atomic():
        try:
            with transaction.atomic():
                # Waits for a concurrent delivery of the same event to commit, then fails.
                record = StripeEvent.objects.create(
                    event_id=event["id"],
                    type=event["type"],
                    outcome=Outcome.IGNORED,
                    created=datetime.fromtimestamp(event["created"], UTC),
                )
        except IntegrityError:
            return None
        result = _apply(event, record.created)
        record.outcome, record.detail, record.payment = result.outcome, result.detail, result.payment
        record.save(update_fields=["outcome", "detail", "payment"])
    if result.outcome in NEEDS_ATTENTION:
        logger.warning(
            "Stripe event %s (%s) not booked: %s",
            record.event_id,
            record.type,
            record.detail,
            extra={"payment_id": result.payment.pk if result.payment else None},
        )
    return record


def _apply(event: dict, created: datetime) -> _Result:
    if event["type"] not in HANDLED_EVENTS:
        return _Result(Outcome.IGNORED, "Not an event FitCRM acts on.")
    session = event["data"]["object"]
    if event["type"] == EXPIRED_EVENT:
        StripeCheckout.objects.filter(session_id=session.get("id")).update(
            status=StripeCheckout.Status.EXPIRED
        )
        return _Result(Outcome.EXPIRED, f"Checkout Session {session.get('id')} expired.")
    if session.get("payment_status") != "paid":
        # Delayed methods (bank debits): checkout.session.async_payment_succeeded follows.
        return _Result(Outcome.AWAITING, f"Payment status {session.get('payment_status')!r}.")
    return _book_payment(session, created)


def _book_payment(session: dict, created: datetime) -> _Result:
    metadata = session.get("metadata") or {}
    payment_id = parse_pk(metadata.get("fitcrm_payment_id"))
    if payment_id is None or str(payment_id) != session.get("client_reference_id"):
        return _Result(
            Outcome.UNKNOWN_PAYMENT,
            f"Checkout Session {session.get('id')} names no FitCRM payment "
            f"(metadata {metadata.get('fitcrm_payment_id')!r}, reference {session.get('client_reference_id')!r}).",
        )
    # Locked: a receipt or a cancel by staff at this moment waits, then sees the result.
    payment = Payment.objects.select_for_update().filter(pk=payment_id).first()
    if payment is None:
        return _Result(Outcome.UNKNOWN_PAYMENT, f"Payment {payment_id} does not exist.")
    StripeCheckout.objects.filter(session_id=session.get("id"), payment=payment).update(
        status=StripeCheckout.Status.COMPLETE
    )
    received = _received(session)
    if payment.status not in (Payment.Status.PENDING, Payment.Status.OVERDUE):
        return _Result(
            Outcome.NOT_OPEN,
            f"{received} received for a payment that is already {payment.get_status_display().lower()}: "
            "refund it from the Stripe dashboard or record it by hand.",
            payment,
        )
    currency = str(session.get("currency") or "").upper()
    if currency != payment.currency:
        return _Result(
            Outcome.MISMATCH, f"{received} received; the payment is in {payment.currency}.", payment
        )
    expected = to_minor_units(payment.balance, payment.currency)
    if session.get("amount_total") != expected:
        return _Result(
            Outcome.MISMATCH,
            f"{received} received; the balance is {payment.balance} {payment.currency}.",
            payment,
        )
    reference = session.get("payment_intent") or session.get("id") or ""
    try:
        payment_mark_paid(payment=payment, method=Payment.Method.ONLINE, reference=reference, paid_at=created)
    except ValidationError as exc:
        return _Result(Outcome.NOT_OPEN, f"{received} received: {' '.join(exc.messages)}", payment)
    return _Result(Outcome.PAID, f"{received}, {reference}.", payment)


def _received(session: dict) -> str:
    currency = str(session.get("currency") or "").upper() or "(no currency)"
    minor = session.get("amount_total")
    if not isinstance(minor, int):
        return f"An unknown amount ({minor!r}) in {currency}"
    return f"{from_minor_units(minor, currency)} {currency}"
