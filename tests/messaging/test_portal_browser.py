"""The main path in a real browser: trainer writes, client reads, replies and cancels.

Drives Debian's Chromium (``apt-get install chromium``) through Playwright,
headless and with the flags that keep it from dialling out; never a browser
that Playwright downloads. Skips, with the reason, where either is missing.
"""

import os
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest
import time_machine
from django.utils import timezone

from messaging.links import portal_link
from messaging.models import Message
from scheduling.models import Session
from tests.factories import ClientFactory, SessionFactory, TrainerFactory
from tests.support.browser import PASSWORD, needs_chromium

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
pytestmark = needs_chromium


def test_trainer_and_client_talk_and_the_client_cancels_a_session(browser, live_server, q_sync, settings):
    settings.SITE_URL = live_server.url
    trainer = TrainerFactory(username="coach")
    client = ClientFactory(trainer=trainer, first_name="Robin", last_name="Runner")
    session = SessionFactory(
        client=client, starts_at=timezone.now() + timedelta(days=3), location="Room Blue"
    )
    link = portal_link(client)
    assert urlsplit(link).netloc == urlsplit(live_server.url).netloc
    expect = sync_api.expect

    # The trainer logs in, opens the inbox and writes to Robin in-app.
    staff = browser.new_page()
    staff.goto(f"{live_server.url}/admin/login/?next=/inbox/")
    staff.fill("#id_username", "coach")
    staff.fill("#id_password", PASSWORD)
    staff.click("input[type=submit]")
    expect(staff).to_have_url(f"{live_server.url}/inbox/")
    staff.click("#new-message")
    staff.fill("#client-q", "Robin")
    staff.click("#client-search button")
    staff.click("text=Robin Runner")
    expect(staff.locator("#id_channel_0")).to_be_checked()  # in-app comes first
    staff.fill("#id_body", "Hi Robin, how did the legs feel after Monday? 💪")
    expect(staff.locator("#sms-count")).to_contain_text("Not GSM-7")
    staff.click("#send")
    expect(staff.locator("#thread")).to_contain_text("how did the legs feel")
    sent = Message.objects.get(client=client, direction="out")
    assert (sent.channel, sent.sent_by_id) == ("in_app", trainer.pk)

    # Robin opens the portal link (on a phone), reads it, replies, cancels.
    phone = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True).new_page()
    phone.goto(link)
    expect(phone.locator("header")).to_contain_text(settings.STUDIO_NAME)
    expect(phone.locator("#messages")).to_contain_text("how did the legs feel")
    sent.refresh_from_db()
    assert sent.status == Message.Status.READ and sent.read_at is not None

    phone.fill("#id_body", "A bit sore, but good! Can't make Thursday though.")
    phone.click("#send-reply")
    expect(phone.locator(".notice.success")).to_contain_text("Message sent")
    expect(phone.locator("#messages")).to_contain_text("A bit sore")

    # Cancelling asks first and takes an optional reason; "No, keep it" changes nothing.
    phone.locator(f"#session-{session.pk}").get_by_role("link", name="Cancel…").click()
    expect(phone.locator("#cancel-form")).to_contain_text("Cancel this session?")
    phone.click("#keep-session")
    expect(phone.locator("#cancel-form")).to_have_count(0)
    session.refresh_from_db()
    assert session.status == Session.Status.SCHEDULED
    phone.click("#cancel-session")
    phone.fill("#cancel-reason", "Twisted my ankle, sorry!")
    phone.click("#confirm-cancel")
    expect(phone.locator(".notice.success")).to_contain_text("cancelled")
    expect(phone.locator("#sessions")).not_to_contain_text("Room Blue")
    session.refresh_from_db()
    assert (session.status, session.cancelled_by) == (Session.Status.CANCELLED, Session.CancelledBy.CLIENT)
    assert session.cancel_reason == "Twisted my ankle, sorry!"

    # The trainer sees the reply and the cancellation with its reason, unread, in the inbox.
    staff.goto(f"{live_server.url}/inbox/")
    expect(staff.locator("#inbox-link .inbox-badge")).to_have_text("2")
    expect(staff.locator("table.conversations")).to_contain_text("Cancelled the session")
    staff.click("text=Robin Runner")
    expect(staff.locator("#thread")).to_contain_text("Can't make Thursday")
    cancelled = staff.locator("#thread li.activity")
    expect(cancelled).to_contain_text("Cancelled the session on")
    expect(cancelled).to_contain_text("Twisted my ankle, sorry!")
    if os.environ.get("PORTAL_SCREENSHOTS"):
        shots = os.environ["PORTAL_SCREENSHOTS"]
        later = SessionFactory(
            client=client, starts_at=timezone.now() + timedelta(days=5), location="Room Red"
        )
        phone.goto(link)
        phone.screenshot(path=os.path.join(shots, "portal.png"), full_page=True)
        phone.goto(
            f"{live_server.url}/portal/{urlsplit(link).path.split('/')[2]}/sessions/{later.pk}/?action=cancel"
        )
        phone.screenshot(path=os.path.join(shots, "portal-cancel-phone.png"), full_page=True)
        staff.screenshot(path=os.path.join(shots, "thread.png"), full_page=True)
        staff.set_viewport_size({"width": 390, "height": 844})
        staff.screenshot(path=os.path.join(shots, "thread-phone.png"), full_page=True)


def test_texting_at_night_asks_first_and_the_held_message_says_why(browser, live_server, settings):
    settings.SITE_URL = live_server.url
    trainer = TrainerFactory(username="coach")
    client = ClientFactory(trainer=trainer, first_name="Robin", last_name="Runner")
    expect = sync_api.expect
    staff = browser.new_page()
    staff.goto(f"{live_server.url}/admin/login/?next=/inbox/{client.pk}/")
    staff.fill("#id_username", "coach")
    staff.fill("#id_password", PASSWORD)
    staff.click("input[type=submit]")
    # 03:23 in London: the server's clock (and only the server's) is at night.
    with time_machine.travel(datetime(2026, 1, 15, 3, 23, tzinfo=UTC), tick=True):
        staff.goto(f"{live_server.url}/inbox/{client.pk}/")
        expect(staff.locator("#quiet-note")).to_contain_text("an SMS waits until 08:00")
        staff.check("input[name=channel][value=sms]")
        staff.fill("#id_body", "Tomorrow's 7 am session is off, I'm ill. Sorry!")
        staff.click("#send")
        expect(staff.locator("#quiet-question")).to_contain_text("inside their quiet hours")
        if os.environ.get("PORTAL_SCREENSHOTS"):
            staff.screenshot(
                path=os.path.join(os.environ["PORTAL_SCREENSHOTS"], "quiet-question.png"), full_page=True
            )
        staff.click("#send-later-quiet")
        expect(staff.locator("#thread")).to_contain_text("Held until 08:00 (client's time) — quiet hours")
        if os.environ.get("PORTAL_SCREENSHOTS"):
            staff.screenshot(path=os.path.join(os.environ["PORTAL_SCREENSHOTS"], "held.png"), full_page=True)
    message = Message.objects.get(client=client)
    assert message.next_attempt_at == datetime(2026, 1, 15, 8, 0, tzinfo=UTC)
    assert message.quiet_hours_overridden_at is None
