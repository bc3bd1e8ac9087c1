"""The calendar in a real browser: a trainer books by selecting a slot, drags the session to
another day, and the client's messages and reminder follow the new time.

Debian's Chromium through Playwright, as ``tests/messaging/test_portal_browser.py``
(skips, with the reason, where either is missing). ``CALENDAR_SCREENSHOTS=/dir`` saves
what the trainer saw, at desktop and phone width.
"""

import os
from datetime import datetime, time, timedelta

import pytest
from django.core import mail
from django.utils import timezone
from icalendar import Calendar

from automation import scan
from automation.models import AutomationRule, TriggerEvent
from clients.models import Channel
from common.clock import studio_tz
from messaging.models import Message
from scheduling.models import Session
from tests.factories import ClientFactory, TrainerFactory
from tests.support.browser import PASSWORD, needs_chromium

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
pytestmark = needs_chromium


def _weekday_next_week(weekday: int):
    today = timezone.now().astimezone(studio_tz()).date()
    monday = today - timedelta(days=today.weekday()) + timedelta(weeks=1)
    return monday + timedelta(days=weekday)


def _point(page, day, hhmm, *, dy=0.5):
    """The middle of the day's column at ``hhmm`` (a half-hour slot), in page pixels."""
    column = page.locator(f".fc-timegrid-col[data-date='{day.isoformat()}']")
    slot = page.locator(f".fc-timegrid-slot-lane[data-time='{hhmm}:00']")
    c, s = column.bounding_box(), slot.bounding_box()
    return c["x"] + c["width"] / 2, s["y"] + s["height"] * dy


def _drag(page, start, end):
    page.mouse.move(*start)
    page.mouse.down()
    page.mouse.move(start[0], start[1] + 3, steps=3)
    page.mouse.move(*end, steps=15)
    page.mouse.up()


def _drag_event(page, grab, target, *, shows):
    """Drag an event as a person does: watch the mirror and nudge until it shows the time."""
    page.mouse.move(*grab)
    page.mouse.down()
    page.mouse.move(grab[0], grab[1] + 6, steps=3)
    x, y = target
    mirror = page.locator(".fc-event-mirror")
    for nudge in (0, -6, -12, 6, 12, -18, 18):
        page.mouse.move(x, y + nudge, steps=8)
        if mirror.count() and mirror.first.inner_text().startswith(shows):
            break
    page.mouse.up()


def _shot(page, name):
    folder = os.environ.get("CALENDAR_SCREENSHOTS")
    if folder:
        page.screenshot(path=os.path.join(folder, name), full_page=True)


def test_trainer_books_by_selecting_a_slot_and_drags_it_to_another_day(
    browser, live_server, q_sync, settings
):
    settings.SITE_URL = live_server.url
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    trainer = TrainerFactory(username="coach", first_name="Cora", last_name="Coach")
    robin = ClientFactory(trainer=trainer, first_name="Robin", last_name="Runner", email="robin@example.com")
    rules = {
        "booked": AutomationRule.objects.create(
            name="Booked",
            trigger_event=TriggerEvent.SESSION_CREATED,
            channel=Channel.EMAIL,
            subject_template="Booked",
            body_template="See you on {{ session_date }} at {{ session_time }}.",
        ),
        "moved": AutomationRule.objects.create(
            name="Moved",
            trigger_event=TriggerEvent.SESSION_MOVED,
            channel=Channel.EMAIL,
            subject_template="New time",
            body_template="Your session is now on {{ session_date }} at {{ session_time }}.",
        ),
        "reminder": AutomationRule.objects.create(
            name="Reminder",
            trigger_event=TriggerEvent.SESSION_SCHEDULED,
            offset_hours=24,
            channel=Channel.SMS,
            body_template="Tomorrow at {{ session_time }}!",
        ),
    }
    AutomationRule.objects.update(created_at=timezone.now() - timedelta(days=1))
    tuesday, thursday = _weekday_next_week(1), _weekday_next_week(3)
    expect = sync_api.expect

    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(f"{live_server.url}/admin/login/?next=/calendar/%3Fdate%3D{tuesday.isoformat()}")
    page.fill("#id_username", "coach")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    expect(page.locator(".fc-timegrid")).to_be_visible()

    # Select Tuesday 10:00–11:00 and book Robin there.
    _drag(page, _point(page, tuesday, "10:00", dy=0.3), _point(page, tuesday, "10:30", dy=0.7))
    expect(page.locator("#book-dialog")).to_be_visible()
    expect(page.locator("#book-duration")).to_have_value("60")
    expect(page.locator("#book-when")).to_have_text(f"{tuesday:%a %d %b %Y}, 10:00 (Europe/London)")
    expect(page.locator("#book-error")).to_be_hidden()
    expect(page.locator("#book-client option")).to_have_count(1)
    page.select_option("#book-client", str(robin.pk))
    page.fill("#book-location", "Room Blue")
    _shot(page, "calendar-book.png")
    page.click("#book-submit")
    expect(page.locator("#calendar-notice")).to_contain_text("Booked Robin Runner")
    session = Session.objects.get(client=robin)
    local = session.starts_at.astimezone(studio_tz())
    assert (local.date(), local.time(), session.duration_minutes) == (tuesday, time(10, 0), 60)
    assert session.location == "Room Blue"
    event = page.locator(f".fc-event[data-session-id='{session.pk}']")
    expect(event).to_contain_text("Robin Runner")

    # Drag it to Thursday, same time.
    target = _point(page, thursday, "10:00", dy=0.1)  # may scroll: measure the event after it
    grab = _point(page, tuesday, "10:00", dy=0.1)
    _drag_event(page, grab, target, shows="10:00 - 11:00")
    expect(page.locator("#calendar-notice")).to_contain_text("Moved to Thu")
    session.refresh_from_db()
    local = session.starts_at.astimezone(studio_tz())
    assert (local.date(), local.time(), session.sequence) == (thursday, time(10, 0), 1)
    _shot(page, "calendar-moved.png")

    # A drag onto another session is refused with the reason, and the session snaps back.
    other = ClientFactory(trainer=trainer, first_name="Sam", last_name="Sprinter")
    friday = _weekday_next_week(4)
    Session.objects.create(
        trainer=trainer,
        client=other,
        starts_at=datetime.combine(friday, time(10, 0), tzinfo=studio_tz()),
        location="Track",
    )
    page.click("button.fc-next-button")
    page.click("button.fc-prev-button")  # refetch
    expect(page.locator(".fc-event", has_text="Sam Sprinter")).to_be_visible()
    target = _point(page, friday, "10:00", dy=0.1)
    grab = _point(page, thursday, "10:00", dy=0.1)
    _drag_event(page, grab, target, shows="10:00 - 11:00")
    expect(page.locator("#calendar-notice")).to_contain_text("already has a session at that time")
    expect(page.locator(f".fc-timegrid-col[data-date='{thursday.isoformat()}'] .fc-event")).to_contain_text(
        "Robin Runner"
    )
    _shot(page, "calendar-clash.png")
    session.refresh_from_db()
    assert session.starts_at.astimezone(studio_tz()).date() == thursday and session.sequence == 1

    # The client was told once of the booking and once of the move, each with the invitation.
    old_start = datetime.combine(tuesday, time(10, 0), tzinfo=studio_tz())
    assert Message.objects.filter(rule=rules["booked"], client=robin).count() == 1
    moved = Message.objects.get(rule=rules["moved"], client=robin)
    assert f"{thursday:%d}" in moved.body and "10:00" in moved.body
    sent = {m.subject: m for m in mail.outbox if m.to == ["robin@example.com"]}
    assert set(sent) == {"Booked", "New time"}
    sequences = {}
    for subject, email in sent.items():
        (name, content, mimetype) = email.attachments[0]
        (vevent,) = Calendar.from_ical(content).walk("VEVENT")
        sequences[subject] = int(vevent["SEQUENCE"])
        assert vevent.decoded("DTSTART") == (session.starts_at if subject == "New time" else old_start)
    assert sequences == {"Booked": 0, "New time": 1}

    # The trainer sees the message in Robin's thread, from the session's dialog.
    event = page.locator(f".fc-event[data-session-id='{session.pk}']")
    event.click()
    expect(page.locator("#session-dialog")).to_be_visible()
    expect(page.locator("#session-when")).to_contain_text(f"{thursday:%d %b %Y}, 10:00–11:00")
    _shot(page, "calendar-session.png")
    page.click("#session-message")
    expect(page.locator("#thread")).to_contain_text("Your session is now on")

    # The reminder follows: nothing at the old time, once at the new one.
    scan.scan(now=old_start - timedelta(hours=24) + timedelta(minutes=1))
    assert not Message.objects.filter(rule=rules["reminder"]).exists()
    scan.scan(now=session.starts_at - timedelta(hours=24) + timedelta(minutes=1))
    (reminder,) = Message.objects.filter(rule=rules["reminder"])
    assert reminder.body == "Tomorrow at 10:00!"

    if os.environ.get("CALENDAR_SCREENSHOTS"):
        phone = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True).new_page()
        phone.goto(f"{live_server.url}/admin/login/?next=/calendar/%3Fdate%3D{tuesday.isoformat()}")
        phone.fill("#id_username", "coach")
        phone.fill("#id_password", PASSWORD)
        phone.click("input[type=submit]")
        expect(phone.locator(".fc-list")).to_contain_text("Robin Runner")
        _shot(phone, "calendar-phone.png")
