"""Stripe faked at its HTTP boundary only, and webhook payloads signed as Stripe signs them.

The fake replaces ``stripe.RequestsClient.request`` (the one method that puts bytes on
the wire): everything above it — the library's parameter encoding, idempotency keys,
retries, error parsing — is the real library's.
"""

import hashlib
import hmac
import json
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import parse_qsl

import pytest
import stripe

STRIPE_SECRET_KEY = "sk_test_" + "f" * 24
STRIPE_WEBHOOK_SECRET = "whsec_test_" + "0" * 24
SITE_URL = "https://crm.studio.example"


@pytest.fixture
def stripe_settings(settings):
    settings.STRIPE_SECRET_KEY = STRIPE_SECRET_KEY
    settings.STRIPE_WEBHOOK_SECRET = STRIPE_WEBHOOK_SECRET
    settings.SITE_URL = SITE_URL
    settings.CURRENCY = "GBP"
    return settings


def checkout_session_json(session_id, *, amount, currency, expires_at, payment_id="", status="open"):
    return {
        "id": session_id,
        "object": "checkout.session",
        "amount_total": amount,
        "currency": currency,
        "client_reference_id": payment_id,
        "metadata": {"fitcrm_payment_id": payment_id},
        "expires_at": expires_at,
        "mode": "payment",
        "payment_intent": None,
        "payment_status": "unpaid",
        "status": status,
        "url": f"https://checkout.stripe.com/c/pay/{session_id}#fidkdWxOYHwnPyd1blpxYHZxWjA0",
    }


@dataclass
class FakeStripeHttp:
    """Stands in for api.stripe.com: records each request, answers like Stripe (or from a script).

    Like Stripe, a repeated ``Idempotency-Key`` gets the first answer again.
    """

    script: list = field(default_factory=list)
    requests: list = field(default_factory=list)
    answered: dict = field(default_factory=dict)
    counter: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def reply(self, status_code, body):
        self.script.append((status_code, body))

    @property
    def created(self):
        """The form fields of each POST that created a Checkout Session."""
        return [
            r["data"]
            for r in self.requests
            if r["method"] == "post" and r["url"].endswith("/checkout/sessions")
        ]

    def __call__(self, method, url, headers, post_data):
        data = dict(parse_qsl(post_data or "", keep_blank_values=True))
        key = (headers or {}).get("Idempotency-Key")
        with self.lock:
            self.requests.append({"method": method, "url": url, "headers": dict(headers or {}), "data": data})
            if self.script:
                status, body = self.script.pop(0)
                return json.dumps(body).encode(), status, {"Request-Id": "req_fake"}
            if key and key in self.answered:
                return self.answered[key]
            self.counter += 1
            session_id = f"cs_test_{self.counter:04d}"
            if url.endswith("/expire"):
                session_id = url.rsplit("/", 2)[-2]
            body = checkout_session_json(
                session_id,
                amount=int(data.get("line_items[0][price_data][unit_amount]", 0)),
                currency=data.get("line_items[0][price_data][currency]", "gbp"),
                expires_at=int(time.time()) + 24 * 3600,
                payment_id=data.get("client_reference_id", ""),
                status="expired" if url.endswith("/expire") else "open",
            )
            answer = (json.dumps(body).encode(), 200, {"Request-Id": f"req_{self.counter}"})
            if key:
                self.answered[key] = answer
            return answer


@pytest.fixture
def stripe_http(stripe_settings, monkeypatch):
    fake = FakeStripeHttp()

    def request(self, method, url, headers, post_data=None):
        return fake(method, url, headers, post_data)

    monkeypatch.setattr(stripe.RequestsClient, "request", request)
    return fake


# --- Webhooks ----------------------------------------------------------------------------------


def stripe_signature(payload: str, *, secret=STRIPE_WEBHOOK_SECRET, timestamp=None) -> str:
    """The ``Stripe-Signature`` header: HMAC-SHA256 of "<timestamp>.<body>" with the endpoint's secret."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{timestamp}.{payload}".encode(), hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def checkout_completed_event(
    payment,
    *,
    event_id="evt_test_1",
    amount=None,
    currency=None,
    session_id="cs_test_0001",
    payment_intent="pi_test_3Mtw",
    payment_status="paid",
    event_type="checkout.session.completed",
    created=None,
):
    """A ``checkout.session.completed`` event for ``payment`` (by default for its whole balance)."""
    payment_id = str(payment.pk) if payment is not None else "999999"
    session = checkout_session_json(
        session_id,
        amount=int(payment.balance * 100) if amount is None else amount,
        currency=(payment.currency.lower() if payment is not None else "gbp")
        if currency is None
        else currency,
        expires_at=int(time.time()) + 3600,
        payment_id=payment_id,
        status="complete",
    )
    session |= {"payment_status": payment_status, "payment_intent": payment_intent}
    return {
        "id": event_id,
        "object": "event",
        "api_version": "2025-09-30.clover",
        "created": int(time.time()) if created is None else created,
        "livemode": False,
        "pending_webhooks": 1,
        "type": event_type,
        "data": {"object": session},
    }


def post_event(client, event, *, secret=STRIPE_WEBHOOK_SECRET, timestamp=None, signature=None):
    payload = json.dumps(event)
    header = (
        signature if signature is not None else stripe_signature(payload, secret=secret, timestamp=timestamp)
    )
    return client.post(
        "/billing/stripe/webhook/", payload, content_type="application/json", HTTP_STRIPE_SIGNATURE=header
    )
