"""The dashboard in a real browser: a trainer logs in and runs her day from it.

Debian's Chromium through Playwright, like tests/messaging/test_portal_browser.py;
skips, saying why, where either is missing.
"""

from datetime import timedelta

import pytest
from django.utils import timezone

from scheduling.models import Session
from tests.factories import ClientFactory, SessionFactory, TrainerFactory
from tests.support.browser import log_in, needs_chromium

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
pytestmark = needs_chromium


@pytest.mark.parametrize("viewport", [{"width": 1280, "height": 900}, {"width": 390, "height": 844}])
def test_a_trainer_finds_todays_sessions_and_the_charts(browser, live_server, viewport):
    trainer = TrainerFactory(username="coach")
    now = timezone.now()
    started = SessionFactory(
        client=ClientFactory(trainer=trainer, first_name="Robin", last_name="Runner"),
        starts_at=now - timedelta(minutes=20),
    )
    SessionFactory(
        client=ClientFactory(trainer=trainer, first_name="Sam", last_name="Swimmer"),
        starts_at=now + timedelta(days=1),
    )
    SessionFactory(
        client=ClientFactory(trainer=trainer, first_name="Old", last_name="Week"),
        starts_at=now - timedelta(days=7),
        status=Session.Status.COMPLETED,
    )
    SessionFactory(
        client=ClientFactory(first_name="Not", last_name="Mine"), starts_at=now + timedelta(hours=1)
    )
    expect = sync_api.expect

    page = browser.new_page(viewport=viewport)
    log_in(page, live_server.url, "coach")
    expect(page).to_have_url(f"{live_server.url}/admin/")
    sessions = page.locator("#panel-sessions")
    expect(sessions.locator("tr.session", has_text="Robin Runner")).to_be_visible()
    expect(sessions.locator("tr.session", has_text="Sam Swimmer")).to_be_visible()
    expect(sessions).not_to_contain_text("Not Mine")

    # Chart.js drew the sessions chart into its canvas; the same numbers sit in a table.
    page.wait_for_function("() => window.Chart && Chart.getChart('chart-sessions') !== undefined")
    drawn = page.evaluate(
        "() => Chart.getChart('chart-sessions').data.datasets[0].data.reduce((a, b) => a + b, 0)"
    )
    assert drawn == 1
    expect(page.locator("#chart-sessions")).to_be_visible()
    page.locator("#panel-chart-sessions summary").click()
    expect(page.locator("#panel-chart-sessions table")).to_contain_text("Completed")

    # Nothing is wider than the screen, phone included.
    assert page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth + 1")

    # One click: Robin's session (started 20 minutes ago) is completed through the service.
    sessions.locator("tr.session", has_text="Robin Runner").get_by_role("button", name="Complete").click()
    expect(page.locator(".messagelist")).to_contain_text("marked completed")
    started.refresh_from_db()
    assert started.status == Session.Status.COMPLETED
