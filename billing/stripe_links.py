"""Online pay links: ``/pay/<token>/`` sends the client to a Stripe Checkout Session.

The token is the payment's id, signed (Django's signing, its own salt): it never carries
an amount, so nobody can edit what they are asked to pay, and it does not expire, so a
link in a message from months ago still works — it opens Stripe while the payment is
open and a clear page once it is paid or cancelled.

A click asks for the payment's *current* balance. The newest Checkout Session is
reused while it is open, asks for that balance and has time left; otherwise a new one
replaces it. Two clicks at once send Stripe the same idempotency key (it names the
payment, the session being replaced and the amount), so Stripe answers both with one
session, and the database keeps one successor per session (``StripeCheckout``'s unique
chain), so there is never a second live session for one balance.

Nothing here runs inside a database transaction while Stripe is called.
"""

import logging
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import stripe
from django.conf import settings
from django.core import signing
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from billing.models import Payment, StripeCheckout
from common.ids import parse_pk

logger = logging.getLogger(__name__)

SALT = "billing.pay-link"

#: A session with less time than this left is replaced: the client needs a few minutes
#: on Stripe's page to type a card number.
MIN_TIME_LEFT = timedelta(minutes=15)

#: Retries of a call that did not reach Stripe or met a concurrent request with the same
#: idempotency key (Stripe answers 409 until the first finishes).
MAX_NETWORK_RETRIES = 2

# Stripe counts amounts in the currency's smallest unit; most have two decimals, these not
# (https://docs.stripe.com/currencies#zero-decimal, #three-decimal).
ZERO_DECIMAL_CURRENCIES = frozenset(
    [
        "BIF",
        "CLP",
        "DJF",
        "GNF",
        "JPY",
        "KMF",
        "KRW",
        "MGA",
        "PYG",
        "RWF",
        "UGX",
        "VND",
        "VUV",
        "XAF",
        "XOF",
        "XPF",
    ]
)
THREE_DECIMAL_CURRENCIES = frozenset(["BHD", "JOD", "KWD", "OMR", "TND"])


class PayLinkUnavailable(Exception):
    """Stripe could not be reached, or refused to make a session; the client may try again."""


def stripe_enabled() -> bool:
    """Pay links need both keys: without the webhook's secret nothing would mark a payment paid."""
    return bool(settings.STRIPE_SECRET_KEY and settings.STRIPE_WEBHOOK_SECRET)


# --- The link ----------------------------------------------------------------------------------


def _signer() -> signing.Signer:
    # "." keeps the token URL-friendly; it never occurs in the base64 signature.
    return signing.Signer(salt=SALT, sep=".")


def pay_token(payment: Payment) -> str:
    return _signer().sign(str(payment.pk))


def payment_from_pay_token(token: str) -> Payment | None:
    """The payment a token names, or ``None`` for a tampered token or a deleted payment."""
    try:
        value = _signer().unsign(token)
    except signing.BadSignature:
        return None
    payment_id = parse_pk(value)
    if payment_id is None:
        return None
    return Payment.objects.select_related("client").filter(pk=payment_id).first()


def _absolute(name: str, token: str) -> str:
    return f"{settings.SITE_URL}{reverse(name, args=[token])}"


def pay_link(payment: Payment) -> str:
    """The absolute pay link, or "" when Stripe is not configured or nothing is owed."""
    if not stripe_enabled() or payment.balance <= 0:
        return ""
    return _absolute("pay:pay", pay_token(payment))


# --- Amounts -----------------------------------------------------------------------------------


def _exponent(currency: str) -> int:
    code = currency.upper()
    return 0 if code in ZERO_DECIMAL_CURRENCIES else 3 if code in THREE_DECIMAL_CURRENCIES else 2


def to_minor_units(amount: Decimal, currency: str) -> int:
    """``amount`` in the currency's smallest unit (pence, cents, yen), as Stripe counts it.

    ``ValueError`` when it has more decimals than the currency (12.50 JPY).
    """
    code = currency.upper()
    exponent = _exponent(code)
    minor = Decimal(amount).scaleb(exponent)
    if minor != minor.to_integral_value():
        raise ValueError(f"{amount} {code} cannot be charged: {code} has {exponent} decimal places.")
    return int(minor)


def from_minor_units(minor: int, currency: str) -> Decimal:
    return Decimal(minor).scaleb(-_exponent(currency))


# --- Checkout Sessions -----------------------------------------------------------------------


def stripe_client() -> stripe.StripeClient:
    # An explicit requests client: the timeout is ours (a client is waiting on the redirect).
    return stripe.StripeClient(
        settings.STRIPE_SECRET_KEY,
        http_client=stripe.RequestsClient(timeout=settings.STRIPE_HTTP_TIMEOUT),
        max_network_retries=MAX_NETWORK_RETRIES,
    )


def _newest_checkout(payment: Payment) -> StripeCheckout | None:
    # The end of the chain: the one session nothing has replaced.
    return payment.stripe_checkouts.filter(replaced_by__isnull=True).order_by("-pk").first()


def _usable(checkout: StripeCheckout | None, payment: Payment, now: datetime) -> bool:
    return (
        checkout is not None
        and checkout.status == StripeCheckout.Status.OPEN
        and checkout.amount == payment.balance
        and checkout.currency == payment.currency
        and checkout.expires_at - now >= MIN_TIME_LEFT
    )


def _session_params(payment: Payment, amount_minor: int) -> dict:
    token = pay_token(payment)
    reference = str(payment.pk)
    what = payment.description or f"Payment due {payment.due_date:%d %B %Y}"
    params = {
        "mode": "payment",
        "line_items": [
            {
                "quantity": 1,
                "price_data": {
                    "currency": payment.currency.lower(),
                    "unit_amount": amount_minor,
                    "product_data": {"name": f"{settings.STUDIO_NAME}: {what}"[:250]},
                },
            }
        ],
        # Both carry the payment's id: the webhook reads them back, and the Stripe
        # dashboard shows which FitCRM payment a charge was for.
        "client_reference_id": reference,
        "metadata": {"fitcrm_payment_id": reference},
        "payment_intent_data": {"metadata": {"fitcrm_payment_id": reference}},
        "success_url": _absolute("pay:done", token),
        "cancel_url": _absolute("pay:cancelled", token),
    }
    if payment.client.email:
        params["customer_email"] = payment.client.email
    return params


def checkout_for_payment(*, payment: Payment, now: datetime | None = None) -> StripeCheckout:
    """An open Checkout Session for the payment's current balance: the newest, or a new one.

    ``PayLinkUnavailable`` when Stripe cannot be reached or refuses. The caller checks
    that the payment is open (a balance above zero).
    """
    now = now or timezone.now()
    newest = _newest_checkout(payment)
    if _usable(newest, payment, now):
        return newest
    amount = payment.balance
    try:
        amount_minor = to_minor_units(amount, payment.currency)
    except ValueError as exc:
        # 12.50 in a currency without decimals: a typo staff must fix, not a crash for the client.
        logger.warning("No pay link for payment %s: %s", payment.pk, exc, extra={"payment_id": payment.pk})
        raise PayLinkUnavailable(str(exc)) from exc
    # The same key for every click that would replace the same session with the same
    # amount: Stripe answers them all with one session.
    idempotency_key = (
        f"fitcrm-pay-{payment.pk}-after-{newest.session_id if newest else 'none'}-"
        f"{amount_minor}{payment.currency.lower()}"
    )
    try:
        session = stripe_client().v1.checkout.sessions.create(
            params=_session_params(payment, amount_minor), options={"idempotency_key": idempotency_key}
        )
    except stripe.StripeError as exc:
        logger.warning(
            "Stripe refused or could not be reached for payment %s: %s",
            payment.pk,
            exc.user_message or exc,
            extra={"payment_id": payment.pk},
        )
        raise PayLinkUnavailable(str(exc.user_message or exc)) from exc
    try:
        with transaction.atomic():
            return StripeCheckout.objects.create(
                payment=payment,
                replaces=newest,
                session_id=session.id,
                url=session.url,
                amount=amount,
                currency=payment.currency,
                expires_at=datetime.fromtimestamp(session.expires_at, UTC),
            )
    except IntegrityError:
        # Another click stored its session first (normally this very one: the same key).
        winner = StripeCheckout.objects.filter(payment=payment, replaces=newest).first()
        if winner is None:
            raise
        if winner.session_id != session.id:
            _expire_quietly(session.id)
        return winner


def _expire_quietly(session_id: str) -> None:
    """Close a session nobody will be sent to (best effort: it expires on its own anyway)."""
    try:
        stripe_client().v1.checkout.sessions.expire(session_id)
    except stripe.StripeError as exc:
        logger.info("Could not expire the unused Checkout Session %s: %s", session_id, exc)
