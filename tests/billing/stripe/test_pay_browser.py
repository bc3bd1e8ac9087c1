"""A client pays from the portal on a phone: Pay now → Stripe → back to "Paid — thank you".

Stripe's API is the HTTP fake; Stripe's hosted page is answered by the browser's own
request routing (the machine has no internet). ``PAY_SCREENSHOTS=dir`` saves the pages
at desktop and phone width.
"""

import os
from decimal import Decimal

from django.test import Client as HttpClient
from playwright.sync_api import expect

from billing import services
from billing.models import Payment
from billing.stripe_links import pay_token
from messaging.portal.tokens import make_portal_token
from tests.billing.stripe.conftest import checkout_completed_event, post_event
from tests.factories import ClientFactory, PaymentFactory
from tests.support.browser import needs_chromium

pytestmark = needs_chromium

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}


def shoot(page, name):
    if shots := os.environ.get("PAY_SCREENSHOTS"):
        page.screenshot(path=os.path.join(shots, f"{name}.png"), full_page=True)


def test_a_client_pays_from_the_portal_and_sees_it_paid(browser, live_server, stripe_http, settings, trainer):
    settings.SITE_URL = live_server.url
    client = ClientFactory(trainer=trainer, first_name="Lucía", email="lucia@example.com")
    payment = PaymentFactory(client=client, amount=Decimal("60.00"), description="10-session pack")
    cancelled = PaymentFactory(client=client, amount=Decimal("15.00"), description="Late-cancel fee")
    services.payment_cancel(payment=cancelled)

    for size, viewport in (("phone", PHONE), ("desktop", DESKTOP)):
        page = browser.new_page(viewport=viewport)
        page.route(
            "https://checkout.stripe.com/**",
            lambda route: route.fulfill(content_type="text/html", body="<h1>Stripe Checkout</h1>"),
        )
        page.goto(f"{live_server.url}/portal/{make_portal_token(client)}/")
        pay_now = page.locator(f"#payment-{payment.pk} a.pay-now")
        expect(pay_now).to_have_text("Pay now")
        page.locator("#payments").scroll_into_view_if_needed()
        shoot(page, f"portal-pay-now-{size}")

        pay_now.click()
        expect(page.locator("h1")).to_have_text("Stripe Checkout")
        assert page.url.startswith("https://checkout.stripe.com/c/pay/cs_test_0001")

        # The client leaves Stripe's page without paying.
        page.goto(f"{live_server.url}/pay/{pay_token(payment)}/cancelled/")
        expect(page.locator("h2")).to_have_text("Payment not completed")
        expect(page.locator("#pay-again")).to_have_text("Pay £60.00 now")
        shoot(page, f"pay-cancelled-{size}")

        page.goto(f"{live_server.url}/pay/{pay_token(cancelled)}/")
        expect(page.locator("h2")).to_have_text("This payment is no longer due")
        shoot(page, f"pay-no-longer-due-{size}")
        page.close()

    # One session for both visits: the second reused it.
    assert len(stripe_http.created) == 1

    # Stripe tells FitCRM; the client comes back to the success page.
    assert post_event(HttpClient(), checkout_completed_event(payment)).status_code == 200
    page = browser.new_page(viewport=PHONE)
    page.goto(f"{live_server.url}/pay/{pay_token(payment)}/done/")
    expect(page.locator("h2")).to_have_text("Paid — thank you")
    page.goto(f"{live_server.url}/pay/{pay_token(payment)}/")
    expect(page.locator("h2")).to_have_text("Paid — thank you")
    expect(page.locator(".pay-summary")).to_contain_text("£60.00")
    shoot(page, "pay-already-paid-phone")
    page.set_viewport_size(DESKTOP)
    shoot(page, "pay-already-paid-desktop")
    page.goto(f"{live_server.url}/portal/{make_portal_token(client)}/")
    expect(page.locator("#payments")).to_contain_text("Nothing to pay. Thank you!")
    assert Payment.objects.get(pk=payment.pk).method == Payment.Method.ONLINE
