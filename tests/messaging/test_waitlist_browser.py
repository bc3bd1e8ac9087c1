"""A client asks to hear of a free time, a session is cancelled, the client books the offer — on a phone.

Skips, with the reason, where Playwright or Chromium is missing (see test_portal_browser).
``WAITLIST_SCREENSHOTS=/dir`` saves each page it saw.
"""

import os
from datetime import datetime, time, timedelta

import pytest
from django.utils import timezone

from clients.models import Channel
from common.clock import studio_tz
from messaging.links import portal_link
from messaging.models import Message, SlotOffer
from scheduling import services
from scheduling.models import Availability, Session, SessionType, WorkingHours
from tests.factories import ClientFactory, SessionFactory, TrainerFactory
from tests.support.browser import needs_chromium

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
pytestmark = needs_chromium
PHONE = {"width": 390, "height": 844}


def shot(page, name):
    if os.environ.get("WAITLIST_SCREENSHOTS"):
        page.screenshot(path=os.path.join(os.environ["WAITLIST_SCREENSHOTS"], f"{name}.png"), full_page=True)


def test_client_asks_to_be_told_a_session_is_cancelled_and_they_book_the_offer_on_a_phone(
    browser, live_server, settings, q_sync
):
    settings.SITE_URL = live_server.url
    trainer = TrainerFactory(username="coach", first_name="Casey", last_name="Coach")
    availability = Availability.objects.create(
        trainer=trainer, minimum_notice_hours=12, slot_interval_minutes=60
    )
    WorkingHours.objects.bulk_create(
        WorkingHours(availability=availability, weekday=day, start_time=time(8), end_time=time(18))
        for day in range(7)
    )
    pt = SessionType.objects.create(name="Personal training", duration_minutes=60, location="Room Blue")
    robin = ClientFactory(trainer=trainer, first_name="Robin", timezone="America/New_York")
    sam = ClientFactory(trainer=trainer, first_name="Sam")
    day = (timezone.now() + timedelta(days=2)).astimezone(studio_tz()).date()
    starts_at = datetime.combine(day, time(10), tzinfo=studio_tz())
    full = SessionFactory(client=ClientFactory(trainer=trainer), starts_at=starts_at, session_type=pt)
    expect = sync_api.expect

    phone = browser.new_context(viewport=PHONE, is_mobile=True).new_page()
    phone.goto(portal_link(robin))
    phone.click("#ask-waitlist")
    expect(phone.locator("#waitlist")).to_contain_text("America/New_York")
    phone.get_by_label("Email to").check()
    shot(phone, "waitlist-form")
    phone.click("#join-waitlist")
    expect(phone.locator(".notice.success")).to_contain_text("we will tell you when a time opens up")
    expect(phone.locator(".waiting")).to_contain_text("any session, by Email")
    shot(phone, "home-waiting")

    # Sam asks too (by SMS); then the trainer's other client cancels.
    sam_phone = browser.new_context(viewport=PHONE, is_mobile=True).new_page()
    sam_phone.goto(portal_link(sam))
    sam_phone.click("#ask-waitlist")
    sam_phone.click("#join-waitlist")
    services.session_cancel(session=Session.objects.get(pk=full.pk))

    email = Message.objects.get(client=robin, channel=Channel.EMAIL)
    assert "A time opened up" in email.subject
    link = email.body.split("The first to book it gets it: ", 1)[1].split()[0]
    phone.goto(link)
    expect(phone.locator("#offer")).to_contain_text("A time opened up")
    expect(phone.locator("#offer")).to_contain_text("Times are in your time zone: America/New_York")
    shot(phone, "offer-open")
    assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    phone.click("#book-offer")
    expect(phone.locator(".notice.success")).to_contain_text("Booked!")
    session = Session.objects.get(client=robin)
    assert session.starts_at == starts_at and session.booked_by == Session.BookedBy.CLIENT
    expect(phone.locator(f"#session-{session.pk}")).to_contain_text("Room Blue")
    shot(phone, "home-booked")

    # Sam was a moment too late.
    sam_offer = SlotOffer.objects.get(request__client=sam)
    sam_link = Message.objects.get(pk=sam_offer.message_id).body.rsplit(" ", 1)[-1]
    sam_phone.goto(sam_link)
    expect(sam_phone.locator("#offer")).to_contain_text("This time has just been taken")
    shot(sam_phone, "offer-taken")
    sam_phone.click("#other-times")
    expect(sam_phone.locator("#book")).to_contain_text("Free times for Personal training")
