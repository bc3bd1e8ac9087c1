"""POST /billing/stripe/webhook/: signed by Stripe, applied once, amounts checked."""

import json
import logging
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine

from billing import services
from billing.models import Payment, StripeCheckout, StripeEvent
from tests.billing.stripe.conftest import checkout_completed_event, post_event, stripe_signature
from tests.factories import ClientFactory, PaymentFactory
from tests.support.threads import run_in_threads

pytestmark = pytest.mark.django_db

NOW = datetime(2027, 3, 10, 12, 0, tzinfo=ZoneInfo("Europe/London"))
Outcome = StripeEvent.Outcome


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def payment(trainer, stripe_settings):
    return PaymentFactory(client=ClientFactory(trainer=trainer), amount=Decimal("60.00"))


def state(payment):
    """Everything the webhook could change."""
    payment.refresh_from_db()
    return (
        payment.status,
        payment.paid_at,
        payment.amount_paid,
        payment.method,
        payment.reference,
        payment.updated_at,
        list(StripeEvent.objects.values_list("event_id", "outcome")),
    )


class TestPaid:
    def test_a_paid_checkout_marks_the_payment_paid_online_with_the_payment_intent(self, client, payment):
        StripeCheckout.objects.create(
            payment=payment,
            session_id="cs_test_0001",
            url="https://checkout.stripe.com/c/pay/cs_test_0001",
            amount=Decimal("60.00"),
            currency="GBP",
            expires_at=NOW + timedelta(hours=20),
        )
        event = checkout_completed_event(payment, created=int((NOW - timedelta(minutes=2)).timestamp()))

        response = post_event(client, event)

        assert response.status_code == 200
        payment.refresh_from_db()
        assert payment.status == Payment.Status.PAID
        assert payment.method == Payment.Method.ONLINE
        assert payment.reference == "pi_test_3Mtw"
        assert payment.paid_at == NOW - timedelta(minutes=2)
        assert payment.amount_paid == Decimal("60.00")
        record = StripeEvent.objects.get()
        assert (record.event_id, record.type, record.outcome, record.payment) == (
            "evt_test_1",
            "checkout.session.completed",
            Outcome.PAID,
            payment,
        )
        assert StripeCheckout.objects.get().status == StripeCheckout.Status.COMPLETE

    def test_an_overdue_payment_is_paid_too(self, client, payment):
        Payment.objects.filter(pk=payment.pk).update(status=Payment.Status.OVERDUE, overdue_at=NOW)
        post_event(client, checkout_completed_event(payment))
        payment.refresh_from_db()
        assert payment.status == Payment.Status.PAID

    def test_the_outstanding_balance_is_what_must_arrive(self, client, payment):
        Payment.objects.filter(pk=payment.pk).update(amount_paid=Decimal("20.00"))

        post_event(client, checkout_completed_event(payment, amount=4000))

        payment.refresh_from_db()
        assert (payment.status, payment.amount_paid) == (Payment.Status.PAID, Decimal("60.00"))

    def test_a_delayed_payment_is_booked_when_it_succeeds(self, client, payment):
        # Bank debits: the session completes unpaid, the money follows in another event.
        post_event(client, checkout_completed_event(payment, payment_status="unpaid", payment_intent="pi_1"))
        payment.refresh_from_db()
        assert payment.status == Payment.Status.PENDING
        assert StripeEvent.objects.get().outcome == Outcome.AWAITING

        post_event(
            client,
            checkout_completed_event(
                payment,
                event_id="evt_test_2",
                event_type="checkout.session.async_payment_succeeded",
                payment_intent="pi_1",
            ),
        )

        payment.refresh_from_db()
        assert (payment.status, payment.reference) == (Payment.Status.PAID, "pi_1")


class TestOnce:
    def test_a_replayed_event_changes_nothing(self, client, payment):
        event = checkout_completed_event(payment)
        post_event(client, event)
        before = state(payment)

        response = post_event(client, event)

        assert response.status_code == 200
        assert state(payment) == before
        assert StripeEvent.objects.count() == 1

    def test_a_second_event_for_a_paid_payment_is_recorded_not_booked(self, client, payment, caplog):
        post_event(client, checkout_completed_event(payment))
        before = state(payment)[:6]

        with caplog.at_level(logging.WARNING, logger="billing.stripe_events"):
            post_event(
                client,
                checkout_completed_event(payment, event_id="evt_test_2", payment_intent="pi_2", amount=6000),
            )

        assert state(payment)[:6] == before
        second = StripeEvent.objects.get(event_id="evt_test_2")
        assert second.outcome == Outcome.NOT_OPEN
        assert "60.00 GBP received for a payment that is already paid" in second.detail
        assert "evt_test_2" in caplog.text

    @pytest.mark.postgres
    @pytest.mark.django_db(transaction=True)
    def test_the_same_event_delivered_twice_at_once_is_applied_once(self, payment):
        from django.test import Client

        event = checkout_completed_event(payment)
        statuses = []
        run_in_threads(lambda: statuses.append(post_event(Client(), event).status_code), count=3)

        assert statuses == [200, 200, 200]
        assert StripeEvent.objects.count() == 1
        payment.refresh_from_db()
        assert payment.status == Payment.Status.PAID


class TestRefused:
    def test_a_forged_signature_is_refused_and_changes_nothing(self, client, payment):
        before = state(payment)

        response = post_event(client, checkout_completed_event(payment), secret="whsec_not_the_studio_s")

        assert response.status_code == 400
        assert state(payment) == before

    def test_a_missing_signature_is_refused(self, client, payment):
        response = client.post(
            "/billing/stripe/webhook/",
            json.dumps(checkout_completed_event(payment)),
            content_type="application/json",
        )
        assert response.status_code == 400
        assert not StripeEvent.objects.exists()

    def test_a_body_changed_after_signing_is_refused(self, client, payment):
        event = checkout_completed_event(payment)
        header = stripe_signature(json.dumps(event))
        event["data"]["object"]["amount_total"] = 1

        response = post_event(client, event, signature=header)

        assert response.status_code == 400
        assert not StripeEvent.objects.exists()

    def test_an_old_signed_event_is_refused(self, client, payment):
        # Stripe's library allows five minutes between signing and receiving.
        old = int((NOW - timedelta(minutes=6)).timestamp())

        response = post_event(client, checkout_completed_event(payment), timestamp=old)

        assert response.status_code == 400
        assert not StripeEvent.objects.exists()

    @pytest.mark.parametrize(
        "body",
        [
            {"object": "event", "hello": "world"},
            {
                "object": "event",
                "id": "evt_1",
                "type": "checkout.session.completed",
                "created": 1,
                "data": [],
            },
            {"object": "event", "id": "evt_1", "type": "x", "created": "soon", "data": {"object": {}}},
        ],
    )
    def test_a_signed_body_that_is_not_an_event_is_refused(self, client, stripe_settings, body):
        payload = json.dumps(body)
        response = client.post(
            "/billing/stripe/webhook/",
            payload,
            content_type="application/json",
            HTTP_STRIPE_SIGNATURE=stripe_signature(payload),
        )
        assert response.status_code == 400
        assert not StripeEvent.objects.exists()

    def test_without_a_webhook_secret_the_endpoint_is_off(self, client, payment, settings):
        settings.STRIPE_WEBHOOK_SECRET = ""
        response = post_event(client, checkout_completed_event(payment))
        assert response.status_code == 404
        assert not StripeEvent.objects.exists()

    def test_only_post(self, client, stripe_settings):
        assert client.get("/billing/stripe/webhook/").status_code == 405


class TestNotBooked:
    def test_a_wrong_amount_is_recorded_and_logged_not_paid(self, client, payment, caplog):
        with caplog.at_level(logging.WARNING, logger="billing.stripe_events"):
            response = post_event(client, checkout_completed_event(payment, amount=5000))

        assert response.status_code == 200
        payment.refresh_from_db()
        assert payment.status == Payment.Status.PENDING
        record = StripeEvent.objects.get()
        assert record.outcome == Outcome.MISMATCH
        assert record.payment == payment
        assert record.detail == "50.00 GBP received; the balance is 60.00 GBP."
        assert "not booked: 50.00 GBP received" in caplog.text

    def test_a_wrong_currency_is_recorded_not_paid(self, client, payment):
        post_event(client, checkout_completed_event(payment, currency="eur"))

        payment.refresh_from_db()
        assert payment.status == Payment.Status.PENDING
        record = StripeEvent.objects.get()
        assert (record.outcome, record.detail) == (
            Outcome.MISMATCH,
            "60.00 EUR received; the payment is in GBP.",
        )

    def test_a_balance_that_changed_after_checkout_is_a_mismatch(self, client, payment):
        event = checkout_completed_event(payment)  # for 60.00
        Payment.objects.filter(pk=payment.pk).update(amount_paid=Decimal("10.00"))

        post_event(client, event)

        payment.refresh_from_db()
        assert (payment.status, payment.amount_paid) == (Payment.Status.PENDING, Decimal("10.00"))
        assert StripeEvent.objects.get().outcome == Outcome.MISMATCH

    def test_a_cancelled_payment_is_not_revived(self, client, payment):
        services.payment_cancel(payment=payment)
        post_event(client, checkout_completed_event(payment))
        payment.refresh_from_db()
        assert payment.status == Payment.Status.CANCELLED
        assert StripeEvent.objects.get().outcome == Outcome.NOT_OPEN

    def test_an_unknown_payment_is_recorded(self, client, payment):
        event = checkout_completed_event(payment)
        session = event["data"]["object"]
        session["metadata"]["fitcrm_payment_id"] = session["client_reference_id"] = "999999"

        response = post_event(client, event)

        assert response.status_code == 200
        record = StripeEvent.objects.get()
        assert (record.outcome, record.payment, record.detail) == (
            Outcome.UNKNOWN_PAYMENT,
            None,
            "Payment 999999 does not exist.",
        )

    def test_a_session_not_made_by_fitcrm_is_unknown(self, client, payment):
        event = checkout_completed_event(payment)
        event["data"]["object"]["metadata"] = {}

        post_event(client, event)

        payment.refresh_from_db()
        assert payment.status == Payment.Status.PENDING
        assert StripeEvent.objects.get().outcome == Outcome.UNKNOWN_PAYMENT

    def test_an_unknown_event_type_is_acknowledged_and_ignored(self, client, payment):
        event = checkout_completed_event(payment, event_type="customer.created")
        before = state(payment)[:6]

        response = post_event(client, event)

        assert response.status_code == 200
        assert state(payment)[:6] == before
        assert StripeEvent.objects.get().outcome == Outcome.IGNORED

    def test_an_expired_session_is_noted_so_the_next_click_makes_a_new_one(self, client, payment):
        StripeCheckout.objects.create(
            payment=payment,
            session_id="cs_test_0001",
            url="https://checkout.stripe.com/c/pay/cs_test_0001",
            amount=Decimal("60.00"),
            currency="GBP",
            expires_at=NOW + timedelta(hours=1),
        )

        post_event(client, checkout_completed_event(payment, event_type="checkout.session.expired"))

        assert StripeCheckout.objects.get().status == StripeCheckout.Status.EXPIRED
        assert StripeEvent.objects.get().outcome == Outcome.EXPIRED


def test_the_event_time_is_stored_in_utc(client, payment):
    post_event(client, checkout_completed_event(payment, created=1_800_000_000))
    assert StripeEvent.objects.get().created == datetime.fromtimestamp(1_800_000_000, UTC)
