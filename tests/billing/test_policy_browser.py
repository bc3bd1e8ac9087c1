"""The policy's pages in a real browser (Debian's Chromium), at desktop and phone width.

A manager sets the policy, a client cancels late from a phone and sees what it costs,
staff waive the fee. ``POLICY_SCREENSHOTS=dir`` saves each page at both widths.
Skips, with the reason, where Playwright or Chromium is missing.
"""

import os
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.urls import reverse
from django.utils import timezone

from billing.models import Payment
from billing.policy import Charge, SessionCharge
from messaging.portal.tokens import make_portal_token
from scheduling import services as scheduling
from tests.factories import ClientFactory, ManagerFactory, SessionFactory, SessionTypeFactory, set_policy
from tests.support.browser import log_in, needs_chromium

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
pytestmark = needs_chromium

SIZES = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}


def shoot(page, name):
    folder = os.environ.get("POLICY_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=f"{folder}/{name}.png", full_page=True)


def test_policy_settings_late_cancel_in_the_portal_and_waiving_the_fee(browser, live_server, settings):
    settings.SITE_URL = live_server.url
    expect = sync_api.expect
    manager = ManagerFactory(username="maria", first_name="Maria")
    set_policy(
        late_cancel_window_hours=24,
        clients_may_cancel_late=True,
        late_cancel_charge=Charge.FEE_FIXED,
        late_cancel_fee=Decimal("15"),
        no_show_charge=Charge.FEE_PERCENT,
        no_show_percent=50,
        grace_count=1,
        grace_days=90,
        client_note="Questions? Call us on 020 7946 0000.",
    )
    client = ClientFactory(trainer=manager, first_name="Robin", last_name="Reyes")
    # An earlier no-show, free under the grace count, so the late cancel costs the fee.
    missed = SessionFactory(
        client=client,
        starts_at=timezone.now() - timedelta(days=3),
        session_type=SessionTypeFactory(name="Strength", price=Decimal("40")),
    )
    scheduling.session_mark_no_show(session=missed)
    session = SessionFactory(
        client=client, starts_at=timezone.now() + timedelta(hours=5), location="Room Blue"
    )
    token = make_portal_token(client)

    for size, viewport in SIZES.items():
        page = browser.new_context(viewport=viewport, is_mobile=size == "phone").new_page()
        page.goto(f"{live_server.url}{reverse('portal:session', args=[token, session.pk])}?action=cancel")
        expect(page.locator("#late-terms")).to_contain_text(
            "this is a late cancellation and a fee of £15.00 applies"
        )
        expect(page.locator("#cancellation-policy")).to_contain_text(
            "Your first late cancellation or missed session"
        )
        assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
        shoot(page, f"portal-late-cancel-{size}")
        page.goto(f"{live_server.url}{reverse('portal:home', args=[token])}")
        shoot(page, f"portal-home-{size}")
        page.context.close()

    phone = browser.new_context(viewport=SIZES["phone"], is_mobile=True).new_page()
    phone.goto(f"{live_server.url}{reverse('portal:session', args=[token, session.pk])}?action=cancel")
    phone.fill("#cancel-reason", "Stuck at work")
    phone.click("#confirm-cancel")
    expect(phone.locator(".notice.success")).to_contain_text("Your session has been cancelled.")
    charge = SessionCharge.objects.get(session=session)
    assert (charge.outcome, charge.fee_payment.amount) == ("fee", Decimal("15.00"))
    phone.context.close()

    for size, viewport in SIZES.items():
        page = browser.new_context(viewport=viewport).new_page()
        log_in(page, live_server.url, "maria")
        page.goto(f"{live_server.url}{reverse('admin:billing_studiopolicy_changelist')}")
        expect(page.locator("body")).to_contain_text(
            "Sessions can be cancelled free of charge up to 24 hours"
        )
        shoot(page, f"admin-policy-{size}")
        page.goto(f"{live_server.url}{reverse('admin:billing_sessioncharge_changelist')}")
        expect(page.locator("#result_list")).to_contain_text("£15.00 (pending)")
        shoot(page, f"admin-charges-{size}")
        page.goto(f"{live_server.url}{reverse('admin:billing_sessioncharge_change', args=[charge.pk])}")
        shoot(page, f"admin-charge-{size}")
        page.goto(f"{live_server.url}{reverse('admin:billing_sessioncharge_waive', args=[charge.pk])}")
        expect(page.locator("#waive-effects")).to_contain_text("cancels the fee of £15.00 (pending)")
        shoot(page, f"admin-waive-{size}")
        if size == "phone":
            page.fill("#id_reason", "Robin's train was cancelled")
            page.click("#confirm-waive")
            expect(page.locator(".messagelist")).to_contain_text(
                "Charge waived. Its fee payment is cancelled."
            )
            shoot(page, f"admin-waived-{size}")
        page.context.close()
    assert Payment.objects.get(pk=charge.fee_payment_id).status == Payment.Status.CANCELLED
