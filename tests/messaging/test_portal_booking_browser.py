"""A client books and moves a session from a phone, in a real browser (Debian's Chromium).

Skips, with the reason, where Playwright or Chromium is missing (see test_portal_browser).
"""

from datetime import time

import pytest

from messaging.links import booking_link
from messaging.models import ClientActivity
from scheduling.models import Availability, Session, SessionType, WorkingHours
from tests.factories import ClientFactory, TrainerFactory
from tests.support.browser import needs_chromium

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
pytestmark = needs_chromium


def test_client_books_a_slot_on_a_phone_sees_it_upcoming_and_moves_it(browser, live_server, settings):
    settings.SITE_URL = live_server.url
    trainer = TrainerFactory(username="coach", first_name="Casey", last_name="Coach")
    # Notice longer than the 24-hour cancellation window: the first free time can then be
    # moved online whatever the hour the test runs at (with 12 hours' notice, a run at
    # 08:07 booked 08:00 tomorrow, inside the window, and found no Move… link).
    availability = Availability.objects.create(
        trainer=trainer, minimum_notice_hours=48, slot_interval_minutes=60
    )
    WorkingHours.objects.bulk_create(
        WorkingHours(availability=availability, weekday=day, start_time=time(8), end_time=time(18))
        for day in range(7)
    )
    SessionType.objects.create(name="Personal training", duration_minutes=60, location="Room Blue")
    client = ClientFactory(trainer=trainer, first_name="Robin", timezone="America/New_York")
    expect = sync_api.expect

    phone = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True).new_page()
    phone.goto(booking_link(client))
    phone.get_by_role("link", name="Personal training · 60 min").click()
    expect(phone.locator("#zone-label")).to_contain_text("America/New_York")
    first = phone.locator("a.slot").first
    chosen = first.get_attribute("data-at")
    first.click()
    expect(phone.locator("#book-confirm")).to_contain_text("Personal training")
    phone.click("#confirm-booking")

    expect(phone.locator(".notice.success")).to_contain_text("Booked!")
    session = Session.objects.get(client=client)
    assert session.starts_at.isoformat() == chosen and session.booked_by == Session.BookedBy.CLIENT
    upcoming = phone.locator(f"#session-{session.pk}")
    expect(upcoming).to_contain_text("Room Blue")
    # The page fits the phone: nothing wider than the screen.
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390

    upcoming.get_by_role("link", name="Move…").click()
    later = phone.locator("a.slot").nth(3)
    new_start = later.get_attribute("data-at")
    later.click()
    phone.click("#confirm-reschedule")
    expect(phone.locator(".notice.success")).to_contain_text("moved")
    session.refresh_from_db()
    assert session.starts_at.isoformat() == new_start != chosen
    expect(phone.locator(f"#session-{session.pk}")).to_be_visible()
    assert list(ClientActivity.objects.values_list("kind", flat=True).order_by("pk")) == [
        "booked",
        "rescheduled",
    ]
