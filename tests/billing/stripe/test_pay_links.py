"""Pay links: /pay/<token>/ sends the client to a Stripe Checkout Session for the current balance."""

from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection

from billing import services
from billing.models import Payment, StripeCheckout
from billing.stripe_links import (
    from_minor_units,
    pay_link,
    pay_token,
    payment_from_pay_token,
    to_minor_units,
)
from messaging.portal.tokens import make_portal_token
from tests.billing.stripe.conftest import SITE_URL
from tests.factories import ClientFactory, PaymentFactory
from tests.support.threads import run_in_threads

pytestmark = pytest.mark.django_db

NOW = datetime(2027, 3, 10, 12, 0, tzinfo=ZoneInfo("Europe/London"))


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def payment(trainer):
    client = ClientFactory(trainer=trainer, email="lucia@example.com")
    return PaymentFactory(client=client, amount=Decimal("60.00"), description="10-session pack")


def pay_path(payment):
    return f"/pay/{pay_token(payment)}/"


class TestCheckoutCreation:
    def test_first_click_creates_a_checkout_session_for_the_balance_and_redirects_to_it(
        self, client, payment, stripe_http
    ):
        response = client.get(pay_path(payment))

        (sent,) = stripe_http.requests
        assert (sent["method"], sent["url"]) == ("post", "https://api.stripe.com/v1/checkout/sessions")
        assert sent["headers"]["Authorization"] == "Bearer sk_test_" + "f" * 24
        token = pay_token(payment)
        assert sent["data"] == {
            "mode": "payment",
            "line_items[0][quantity]": "1",
            "line_items[0][price_data][currency]": "gbp",
            "line_items[0][price_data][unit_amount]": "6000",
            "line_items[0][price_data][product_data][name]": "FitCRM Studio: 10-session pack",
            "client_reference_id": str(payment.pk),
            "metadata[fitcrm_payment_id]": str(payment.pk),
            "payment_intent_data[metadata][fitcrm_payment_id]": str(payment.pk),
            "success_url": f"{SITE_URL}/pay/{token}/done/",
            "cancel_url": f"{SITE_URL}/pay/{token}/cancelled/",
            "customer_email": "lucia@example.com",
        }
        assert sent["headers"]["Idempotency-Key"] == f"fitcrm-pay-{payment.pk}-after-none-6000gbp"
        assert response.status_code == 303
        assert response["Location"].startswith("https://checkout.stripe.com/c/pay/cs_test_0001")
        checkout = StripeCheckout.objects.get()
        assert (checkout.payment, checkout.session_id, checkout.amount, checkout.currency) == (
            payment,
            "cs_test_0001",
            Decimal("60.00"),
            "GBP",
        )
        assert checkout.expires_at == NOW + timedelta(hours=24)
        assert response["Cache-Control"].startswith("max-age=0")

    def test_a_second_click_reuses_the_open_session(self, client, payment, stripe_http):
        first = client.get(pay_path(payment))
        second = client.get(pay_path(payment))

        assert second.status_code == 303
        assert second["Location"] == first["Location"]
        assert len(stripe_http.requests) == 1
        assert StripeCheckout.objects.count() == 1

    def test_an_expired_session_is_replaced_by_a_new_one(self, client, payment, stripe_http, frozen):
        client.get(pay_path(payment))
        # Less than 15 minutes left is too little to type a card number.
        frozen.move_to(NOW + timedelta(hours=23, minutes=50))

        response = client.get(pay_path(payment))

        assert response["Location"].startswith("https://checkout.stripe.com/c/pay/cs_test_0002")
        first, second = StripeCheckout.objects.order_by("pk")
        assert second.replaces == first
        assert stripe_http.requests[1]["headers"]["Idempotency-Key"] == (
            f"fitcrm-pay-{payment.pk}-after-cs_test_0001-6000gbp"
        )

    def test_a_session_stripe_reported_expired_is_replaced(self, client, payment, stripe_http):
        client.get(pay_path(payment))
        StripeCheckout.objects.update(status=StripeCheckout.Status.EXPIRED)

        response = client.get(pay_path(payment))

        assert response["Location"].startswith("https://checkout.stripe.com/c/pay/cs_test_0002")

    def test_after_a_partial_payment_the_link_asks_for_what_is_left(self, client, payment, stripe_http):
        client.get(pay_path(payment))
        Payment.objects.filter(pk=payment.pk).update(amount_paid=Decimal("25.50"))

        response = client.get(pay_path(payment))

        assert response["Location"].startswith("https://checkout.stripe.com/c/pay/cs_test_0002")
        assert stripe_http.created[1]["line_items[0][price_data][unit_amount]"] == "3450"
        assert StripeCheckout.objects.order_by("pk").last().amount == Decimal("34.50")

    def test_a_client_without_email_is_asked_for_one_by_stripe(self, client, trainer, stripe_http):
        payment = PaymentFactory(client=ClientFactory(trainer=trainer, email=""), description="")

        client.get(pay_path(payment))

        (data,) = stripe_http.created
        assert "customer_email" not in data
        assert data["line_items[0][price_data][product_data][name]"] == (
            f"FitCRM Studio: Payment due {payment.due_date:%d %B %Y}"
        )

    def test_stripe_refusing_shows_a_try_again_page_and_stores_nothing(self, client, payment, stripe_http):
        stripe_http.reply(
            400, {"error": {"type": "invalid_request_error", "message": "Invalid currency: xxx"}}
        )

        response = client.get(pay_path(payment))

        assert response.status_code == 503
        assert b"Card payment is not available right now" in response.content
        assert b"Try again" in response.content
        assert not StripeCheckout.objects.exists()
        # The next click works.
        assert client.get(pay_path(payment)).status_code == 303

    def test_a_click_that_meets_another_in_flight_waits_for_its_session(self, client, payment, stripe_http):
        # Stripe answers 409 while a request with the same idempotency key is still running;
        # the library retries, and the retry gets the session the first request made.
        stripe_http.reply(
            409,
            {
                "error": {
                    "type": "idempotency_error",
                    "message": "There is currently another in-progress request",
                }
            },
        )

        response = client.get(pay_path(payment))

        assert response.status_code == 303
        assert [r["headers"]["Idempotency-Key"] for r in stripe_http.requests] == [
            f"fitcrm-pay-{payment.pk}-after-none-6000gbp"
        ] * 2

    def test_an_amount_the_currency_cannot_charge_is_a_try_later_page_not_a_crash(
        self, client, payment, stripe_http, settings
    ):
        Payment.objects.filter(pk=payment.pk).update(currency="JPY", amount=Decimal("12.50"))

        response = client.get(pay_path(payment))

        assert response.status_code == 503
        assert stripe_http.requests == []


class TestWithoutStripe:
    def test_without_keys_there_is_no_link_and_the_page_says_so(self, client, payment, settings):
        settings.STRIPE_SECRET_KEY = ""
        settings.STRIPE_WEBHOOK_SECRET = ""

        assert pay_link(payment) == ""
        response = client.get(pay_path(payment))

        assert response.status_code == 503
        assert b"Online payment is not available" in response.content
        assert not StripeCheckout.objects.exists()

    def test_a_secret_key_without_the_webhook_secret_offers_no_link(self, payment, settings):
        # Nothing would ever mark the payment paid.
        settings.STRIPE_SECRET_KEY = "sk_test_x"
        settings.STRIPE_WEBHOOK_SECRET = ""
        assert pay_link(payment) == ""


class TestTheLink:
    def test_the_link_is_absolute_stable_and_carries_only_the_payment_id(self, payment, stripe_settings):
        link = pay_link(payment)

        assert link == pay_link(payment)
        assert link.startswith(f"{SITE_URL}/pay/{payment.pk}.")
        assert "60" not in link.removeprefix(f"{SITE_URL}/pay/{payment.pk}.")

    def test_no_link_for_a_paid_or_cancelled_payment(self, payment, stripe_settings):
        services.payment_mark_paid(payment=payment)
        assert pay_link(payment) == ""
        cancelled = PaymentFactory(client=payment.client)
        services.payment_cancel(payment=cancelled)
        assert pay_link(cancelled) == ""

    @pytest.mark.parametrize(
        "tamper",
        [
            lambda token: token[:-2] + "xx",
            lambda token: "99999999" + token[token.index(".") :],
            lambda token: token.split(".")[0],
            lambda token: "",
        ],
    )
    def test_a_tampered_token_names_no_payment(self, payment, tamper):
        assert payment_from_pay_token(tamper(pay_token(payment))) is None

    def test_a_portal_token_is_not_a_pay_token(self, payment):
        # Another salt: a link from one feature never opens another.
        assert payment_from_pay_token(make_portal_token(payment.client)) is None

    def test_a_tampered_link_shows_a_not_valid_page_and_calls_nobody(self, client, payment, stripe_http):
        response = client.get(f"/pay/{pay_token(payment)[:-1]}x/")

        assert response.status_code == 404
        assert b"This payment link is not valid" in response.content
        assert stripe_http.requests == []


class TestSettledPayments:
    def test_a_paid_payment_shows_already_paid(self, client, payment, stripe_http):
        services.payment_mark_paid(payment=payment, paid_at=NOW - timedelta(days=2))

        response = client.get(pay_path(payment))

        assert response.status_code == 200
        assert b"Paid \xe2\x80\x94 thank you" in response.content
        assert b"paid on 8 March 2027" in response.content
        assert b"10-session pack" in response.content
        assert stripe_http.requests == []

    def test_a_cancelled_payment_is_no_longer_due(self, client, payment, stripe_http):
        services.payment_cancel(payment=payment)

        response = client.get(pay_path(payment))

        assert response.status_code == 200
        assert b"This payment is no longer due" in response.content
        assert stripe_http.requests == []

    def test_a_link_from_an_old_message_still_opens_stripe(self, client, payment, stripe_http, frozen):
        path = pay_path(payment)
        frozen.move_to(NOW + timedelta(days=400))

        assert client.get(path).status_code == 303


class TestReturnPages:
    def test_back_from_stripe_before_the_webhook_says_it_is_being_confirmed(
        self, client, payment, stripe_http
    ):
        response = client.get(f"/pay/{pay_token(payment)}/done/")
        assert b"Your payment is being confirmed" in response.content

    def test_back_from_stripe_after_the_webhook_says_paid(self, client, payment, stripe_http):
        services.payment_mark_paid(payment=payment)
        response = client.get(f"/pay/{pay_token(payment)}/done/")
        assert b"Paid \xe2\x80\x94 thank you" in response.content

    def test_leaving_stripe_without_paying_offers_to_pay_again(self, client, payment, stripe_http):
        response = client.get(f"/pay/{pay_token(payment)}/cancelled/")

        assert b"nothing was charged" in response.content
        assert f'href="/pay/{pay_token(payment)}/"'.encode() in response.content
        assert "Pay £60.00 now" in response.content.decode()
        assert stripe_http.requests == []

    def test_a_part_paid_payment_s_pages_show_amounts_as_the_portal_does(self, client, payment, stripe_http):
        # The portal says "£20.00 of £60.00 paid so far"; the pay pages said "60.00 GBP".
        services.payment_record_receipt(payment=payment, amount=Decimal("20.00"), method="cash")

        page = client.get(f"/pay/{pay_token(payment)}/cancelled/").content.decode()

        assert "Pay £40.00 now" in page
        assert "<dt>Amount</dt><dd>£60.00</dd>" in page
        assert "<dt>Still to pay</dt><dd>£40.00</dd>" in page
        assert "GBP" not in page


class TestMinorUnits:
    @pytest.mark.parametrize(
        ("amount", "currency", "minor"),
        [("60.00", "GBP", 6000), ("0.01", "eur", 1), ("1500", "JPY", 1500), ("12.50", "KWD", 12500)],
    )
    def test_amounts_in_the_currency_s_smallest_unit(self, amount, currency, minor):
        assert to_minor_units(Decimal(amount), currency) == minor
        assert from_minor_units(minor, currency) == Decimal(amount)

    def test_an_amount_finer_than_the_currency_is_refused(self):
        with pytest.raises(ValueError, match="JPY has 0 decimal places"):
            to_minor_units(Decimal("12.50"), "JPY")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_clicks_at_once_make_one_checkout_session(trainer, stripe_http):
    payment = PaymentFactory(client=ClientFactory(trainer=trainer), amount=Decimal("60.00"))
    path = pay_path(payment)
    locations = []

    def click():
        from django.test import Client

        locations.append(Client().get(path)["Location"])

    run_in_threads(click, count=4)

    assert connection.vendor == "postgresql"
    assert len(set(locations)) == 1 and len(locations) == 4
    assert StripeCheckout.objects.count() == 1
    # Every click asked Stripe with the same idempotency key: Stripe made one session.
    assert {r["headers"]["Idempotency-Key"] for r in stripe_http.requests} == {
        f"fitcrm-pay-{payment.pk}-after-none-6000gbp"
    }


class TestPortal:
    def test_the_portal_offers_pay_now_beside_each_open_payment(self, client, payment, stripe_settings):
        paid = PaymentFactory(client=payment.client, description="Old pack")
        services.payment_mark_paid(payment=paid)

        response = client.get(f"/portal/{make_portal_token(payment.client)}/")

        content = response.content.decode()
        assert (
            f'<a href="{SITE_URL}/pay/{pay_token(payment)}/" class="button primary pay-now">Pay now</a>'
            in content
        )
        assert content.count("Pay now") == 1

    def test_without_stripe_the_portal_offers_no_pay_now(self, client, payment, settings):
        settings.STRIPE_SECRET_KEY = ""

        response = client.get(f"/portal/{make_portal_token(payment.client)}/")

        assert b"10-session pack" in response.content
        assert b"Pay now" not in response.content
