"""Online payment: the pay link's pages (for clients, no login) and Stripe's webhook."""

import logging

import stripe
from django.conf import settings
from django.http import Http404, HttpResponse, HttpResponseBadRequest, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from billing.models import Payment
from billing.stripe_events import stripe_event_apply
from billing.stripe_links import (
    PayLinkUnavailable,
    checkout_for_payment,
    payment_from_pay_token,
    stripe_enabled,
)

logger = logging.getLogger(__name__)


def _page(request, state: str, payment: Payment | None, token: str = "", status: int = 200):
    response = TemplateResponse(
        request, "billing/pay.html", {"state": state, "payment": payment, "token": token}, status=status
    )
    # The token is in the URL: keep it out of other sites' Referer headers and search engines.
    response["Referrer-Policy"] = "same-origin"
    response["X-Robots-Tag"] = "noindex, nofollow"
    return response


def _settled_state(payment: Payment) -> str | None:
    """Why there is nothing to pay, or ``None`` while there is."""
    if payment.status == Payment.Status.PAID:
        return "paid"
    if payment.balance <= 0:
        return "not_due"
    return None


@never_cache
@require_GET
def pay(request, token):
    """The pay link: a 303 to Stripe's page for the current balance, or a page saying why not."""
    payment = payment_from_pay_token(token)
    if payment is None:
        return _page(request, "invalid", None, status=404)
    if state := _settled_state(payment):
        return _page(request, state, payment, token)
    if not stripe_enabled():
        return _page(request, "unavailable", payment, token, status=503)
    try:
        checkout = checkout_for_payment(payment=payment)
    except PayLinkUnavailable:
        return _page(request, "unreachable", payment, token, status=503)
    response = HttpResponseRedirect(checkout.url)
    response.status_code = 303  # "see other": the browser GETs Stripe's page
    response["Referrer-Policy"] = "no-referrer"
    return response


@never_cache
@require_GET
def pay_done(request, token):
    """Where Stripe sends the client back after paying; the webhook may not have arrived yet."""
    payment = payment_from_pay_token(token)
    if payment is None:
        return _page(request, "invalid", None, status=404)
    return _page(request, "paid" if payment.status == Payment.Status.PAID else "confirming", payment, token)


@never_cache
@require_GET
def pay_cancelled(request, token):
    """Where Stripe sends the client back when they leave its page without paying."""
    payment = payment_from_pay_token(token)
    if payment is None:
        return _page(request, "invalid", None, status=404)
    state = _settled_state(payment) or ("cancelled" if stripe_enabled() else "unavailable")
    return _page(request, state, payment, token)


@csrf_exempt
@require_POST
def stripe_webhook(request):
    """Stripe's events, authenticated by their signature alone (``Stripe-Signature``)."""
    if not settings.STRIPE_WEBHOOK_SECRET:
        raise Http404("Stripe is not configured.")
    try:
        # Checks the HMAC of the raw body and that the timestamp is under 5 minutes old.
        event = stripe.Webhook.construct_event(
            request.body, request.headers.get("Stripe-Signature"), settings.STRIPE_WEBHOOK_SECRET
        ).to_dict()
    except (ValueError, stripe.SignatureVerificationError) as exc:
        # ValueError: a body that is not UTF-8 JSON (only a sender with the secret gets here).
        logger.warning("Stripe webhook refused: %s", exc)
        return HttpResponseBadRequest("Invalid signature or payload.")
    data = event.get("data")
    if not (
        isinstance(event.get("id"), str)
        and isinstance(event.get("type"), str)
        and isinstance(event.get("created"), int)
        and isinstance(data, dict)
        and isinstance(data.get("object"), dict)
    ):
        return HttpResponseBadRequest("Not a Stripe event.")
    stripe_event_apply(event=event)
    return HttpResponse("ok")
