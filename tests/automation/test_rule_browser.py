"""A trainer drafts a rule in a real browser, reads its forecast and activates it; a
manager sees the studio-wide rule. Desktop and phone width.

Set RULE_SCREENSHOTS=/some/dir to keep the screenshots.
"""

import os
from datetime import timedelta
from pathlib import Path

import pytest
from django.contrib.auth.models import Group
from django.utils import timezone

from automation.models import AutomationRule
from clients.roles import STUDIO_MANAGER
from tests.factories import ClientFactory, SessionFactory, TrainerFactory, UserFactory
from tests.support.browser import PASSWORD, log_in, needs_chromium

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
pytestmark = needs_chromium


@pytest.mark.parametrize("viewport", [{"width": 1280, "height": 900}, {"width": 390, "height": 844}])
def test_a_trainer_drafts_a_rule_reads_its_forecast_and_activates_it(
    browser, live_server, viewport, tmp_path
):
    shots = Path(os.environ.get("RULE_SCREENSHOTS") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    width = viewport["width"]
    anna = TrainerFactory(username="anna", first_name="Anna", password=PASSWORD)
    ben = TrainerFactory(username="ben", password=PASSWORD)
    manager = UserFactory(username="maria", is_staff=True, password=PASSWORD)
    manager.groups.add(Group.objects.get(name=STUDIO_MANAGER))
    soon = timezone.now() + timedelta(days=2)
    for name, owner in (("Priya", anna), ("Omar", anna), ("Zebedee", ben)):
        SessionFactory(client=ClientFactory(first_name=name, trainer=owner), starts_at=soon)
    AutomationRule.objects.create(
        name="Studio booking note",
        trigger_event="session_created",
        channel="email",
        subject_template="Booked",
        body_template="See you {{ session_date }}",
    )

    page = browser.new_page(viewport=viewport)
    log_in(page, live_server.url, "anna", "/admin/automation/automationrule/add/")
    page.fill("#id_name", "My 24 h reminder")
    page.select_option("#id_trigger_event", "session_scheduled")
    page.fill("#id_offset_hours", "24")
    page.select_option("#id_channel", "sms")
    page.fill("#id_body_template", "Hi {{ first_name }}, see you tomorrow at {{ session_time }}.")
    page.screenshot(path=shots / f"rule-add-trainer-{width}.png", full_page=True)
    page.click("input[name=_save]")
    page.wait_for_selector(".rule-forecast")
    page.screenshot(path=shots / f"rule-draft-trainer-{width}.png", full_page=True)
    assert "Saved as a draft" in page.inner_text("body")
    forecast = page.inner_text(".rule-forecast")
    assert "2 messages in the next 7 days" in forecast
    assert "Hi Priya" in forecast and "Zebedee" not in forecast
    with page.expect_navigation():
        page.click("input[value=Activate]")
    page.screenshot(path=shots / f"rule-activated-trainer-{width}.png", full_page=True)
    assert "is active" in page.inner_text(".messagelist")
    assert AutomationRule.objects.get(name="My 24 h reminder").is_active

    page.goto(f"{live_server.url}/admin/automation/automationrule/")
    page.screenshot(path=shots / f"rule-list-trainer-{width}.png", full_page=True)
    page.close()

    page = browser.new_page(viewport=viewport)
    rule = AutomationRule.objects.get(name="My 24 h reminder")
    log_in(page, live_server.url, "maria", f"/admin/automation/automationrule/{rule.pk}/change/")
    page.wait_for_selector(".rule-forecast")
    assert "Zebedee" not in page.inner_text(".rule-forecast")  # Anna's rule: Anna's clients
    page.screenshot(path=shots / f"rule-page-manager-{width}.png", full_page=True)
    page.close()
