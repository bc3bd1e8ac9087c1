"""The SMS campaign's figures and an announcement's consent rule in a real browser, and a
saved reply inserted in the inbox compose box; desktop and phone width.

Set RULE_SCREENSHOTS=/some/dir to keep the screenshots.
"""

import os
from pathlib import Path

import pytest
from django.contrib.auth.models import Group

from campaigns.models import Campaign, Segment
from clients.roles import STUDIO_MANAGER
from messaging.models import SavedReply
from tests.factories import ClientFactory, TrainerFactory, UserFactory
from tests.support.browser import PASSWORD, log_in, needs_chromium

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
pytestmark = needs_chromium


@pytest.mark.parametrize("viewport", [{"width": 1280, "height": 900}, {"width": 390, "height": 844}])
def test_campaign_figures_and_saved_replies(browser, live_server, viewport, tmp_path, settings):
    settings.SMS_PRICE_PER_SEGMENT = "0.05"
    shots = Path(os.environ.get("RULE_SCREENSHOTS") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    width = viewport["width"]
    anna = TrainerFactory(username="anna", password=PASSWORD)
    manager = UserFactory(username="maria", is_staff=True, password=PASSWORD)
    manager.groups.add(Group.objects.get(name=STUDIO_MANAGER))
    priya = ClientFactory(first_name="Priya", trainer=anna, sms_marketing=True)
    ClientFactory(first_name="Omar", trainer=anna, email="")
    segment = Segment.objects.create(name="Everyone", owner=manager)
    sms = Campaign.objects.create(
        name="December offer",
        kind=Campaign.Kind.SMS,
        body="Hi {{ first_name }}, 20% off in December!",
        segment=segment,
        created_by=manager,
    )
    notice = Campaign.objects.create(
        name="Closed 25 December",
        kind=Campaign.Kind.ANNOUNCEMENT,
        subject="Closed on the 25th",
        body="Hi {{ first_name }}, the studio is closed on 25 December.",
        segment=segment,
        created_by=manager,
    )
    SavedReply.objects.create(
        title="Running late", body="Hi {{ first_name }}, I'm 5 minutes late.", owner=anna
    )

    page = browser.new_page(viewport=viewport)
    log_in(page, live_server.url, "maria", f"/admin/campaigns/campaign/{sms.pk}/change/")
    page.wait_for_selector("#campaign-sms-cost")
    figures = page.inner_text("#campaign-sms-cost")
    assert "1 recipient × 1 segment × 0.05 GBP = 0.05 GBP" in figures
    page.screenshot(path=shots / f"campaign-sms-manager-{width}.png", full_page=True)
    page.goto(f"{live_server.url}/admin/campaigns/campaign/{notice.pk}/change/")
    assert "no marketing consent needed" in page.inner_text("#campaign-consent")
    page.screenshot(path=shots / f"campaign-announcement-manager-{width}.png", full_page=True)
    page.close()

    page = browser.new_page(viewport=viewport)
    log_in(page, live_server.url, "anna", f"/inbox/{priya.pk}/")
    page.wait_for_selector("#saved-reply")
    page.select_option("#saved-reply", label="Running late")
    assert page.input_value("#id_body") == "Hi Priya, I'm 5 minutes late."
    page.screenshot(path=shots / f"inbox-saved-reply-trainer-{width}.png", full_page=True)
    page.close()
