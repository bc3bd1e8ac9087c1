"""A trainer records a part payment and the rest in a real browser, previews the receipt
email, and the client reads her balance in the portal. Desktop and phone width.

Set RECEIPT_SCREENSHOTS=/some/dir to keep the screenshots.
"""

import os
from decimal import Decimal
from pathlib import Path

import pytest

from billing.models import Payment, Receipt
from messaging.links import portal_link
from tests.factories import ClientFactory, ManagerFactory, PaymentFactory, TrainerFactory
from tests.support.browser import PASSWORD, log_in, needs_chromium

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
pytestmark = needs_chromium


@pytest.mark.parametrize("viewport", [{"width": 1280, "height": 900}, {"width": 390, "height": 844}])
def test_a_part_payment_then_the_rest_and_the_client_sees_her_balance(
    browser, live_server, viewport, tmp_path, settings
):
    settings.SITE_URL = live_server.url
    shots = Path(os.environ.get("RECEIPT_SCREENSHOTS") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    width = viewport["width"]
    expect = sync_api.expect
    anna = TrainerFactory(username="anna", first_name="Anna", password=PASSWORD)
    priya = ClientFactory(trainer=anna, first_name="Priya", last_name="Shah", email="priya@example.com")
    pack = PaymentFactory(client=priya, amount=Decimal("240.00"), description="Ten-session pack")
    PaymentFactory(client=priya, amount=Decimal("15.00"), description="Towel hire")

    page = browser.new_page(viewport=viewport)
    log_in(page, live_server.url, "anna", f"/admin/billing/payment/{pack.pk}/record/")
    expect(page.locator("#id_amount")).to_have_value("240.00")
    page.fill("#id_amount", "300")
    page.select_option("#id_method", "bank_transfer")
    page.fill("#id_reference", "SO PRIYA MAR")
    page.click("#record-payment")
    expect(page.locator(".errorlist")).to_contain_text("£300.00 is more than the £240.00 still owed")
    expect(page.locator("#id_reference")).to_have_value("SO PRIYA MAR")
    page.screenshot(path=shots / f"record-error-{width}.png", full_page=True)

    page.fill("#id_amount", "100.00")
    page.click("#record-payment")
    expect(page.locator(".messagelist")).to_contain_text("£100.00 received. Still owed: £140.00.")
    page.screenshot(path=shots / f"payment-part-paid-{width}.png", full_page=True)

    # Priya sees what she still owes on her phone or laptop.
    part_paid = browser.new_page(viewport=viewport)
    part_paid.goto(portal_link(priya))
    expect(part_paid.locator("#balance")).to_contain_text("You owe £155.00.")
    expect(part_paid.locator(f"#payment-{pack.pk}")).to_contain_text("£100.00 of £240.00 paid so far")
    part_paid.locator("#payments").screenshot(path=shots / f"portal-part-paid-{width}.png")
    part_paid.close()

    page.click("#record-payment-link")
    expect(page.locator("#id_amount")).to_have_value("140.00")
    page.select_option("#id_method", "card")
    page.click("#record-payment")
    expect(page.locator(".messagelist")).to_contain_text("The payment is paid in full.")
    pack.refresh_from_db()
    assert (pack.status, pack.amount_paid) == (Payment.Status.PAID, Decimal("240.00"))

    page.click("#email-receipt-link")
    expect(page.locator("#receipt-preview")).to_contain_text("Paid in full: £240.00.")
    page.screenshot(path=shots / f"email-receipt-{width}.png", full_page=True)
    page.click("#send-receipt")
    expect(page.locator(".messagelist")).to_contain_text("emailed to priya@example.com")

    page.goto(f"{live_server.url}/admin/billing/payment/")
    page.screenshot(path=shots / f"payment-list-{width}.png", full_page=True)
    page.goto(f"{live_server.url}/admin/billing/receipt/")
    assert Receipt.objects.count() == 2
    page.screenshot(path=shots / f"receipt-list-{width}.png", full_page=True)
    page.goto(f"{live_server.url}/admin/clients/client/{priya.pk}/change/")
    expect(page.locator(".field-balance")).to_contain_text("£15.00 owed on 1 open payment(s).")
    page.screenshot(path=shots / f"client-page-{width}.png", full_page=True)

    # The bulk action's page.
    page.goto(f"{live_server.url}/admin/billing/payment/")
    page.locator("input[name=_selected_action]").first.check()
    page.select_option("select[name=action]", "mark_paid")
    page.click("button[name=index]")
    expect(page.locator("#mark-paid-payments")).to_contain_text("£15.00")
    page.screenshot(path=shots / f"mark-paid-{width}.png", full_page=True)

    client_page = browser.new_page(viewport=viewport)
    client_page.goto(portal_link(priya))
    expect(client_page.locator("#balance")).to_contain_text("You owe £15.00.")
    client_page.locator("#payments").screenshot(path=shots / f"portal-payments-{width}.png")
    client_page.screenshot(path=shots / f"portal-{width}.png", full_page=True)


@pytest.mark.parametrize("viewport", [{"width": 1280, "height": 900}, {"width": 390, "height": 844}])
def test_a_manager_reads_and_edits_the_receipt_email(browser, live_server, viewport, tmp_path):
    shots = Path(os.environ.get("RECEIPT_SCREENSHOTS") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    expect = sync_api.expect
    ManagerFactory(username="maria", password=PASSWORD)

    page = browser.new_page(viewport=viewport)
    log_in(page, live_server.url, "maria", "/admin/messaging/receipttemplate/")
    expect(page.locator("#receipt-template-preview")).to_contain_text("Receipt R00042 from")
    page.fill("#id_body_template", "Thanks {{ first_name }} {{ client.email }}")
    page.click("input[name=_save]")
    expect(page.locator(".errorlist")).to_contain_text("'client.email' is not allowed")
    page.screenshot(path=shots / f"receipt-template-error-{viewport['width']}.png", full_page=True)
