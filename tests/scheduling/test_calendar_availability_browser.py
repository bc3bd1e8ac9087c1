"""The calendar in a real browser shades the trainer's time outside her working hours:
hatched before, between and after her ranges, a whole day off, a date's own hours.

``CALENDAR_SCREENSHOTS=/dir`` saves what she saw, at desktop and phone width.
"""

import os
from datetime import datetime, time, timedelta

import pytest
from django.utils import timezone

from common.clock import studio_tz
from scheduling.models import Availability, DateOverride, Session, WorkingHours
from tests.factories import ClientFactory, TrainerFactory
from tests.support.browser import log_in, needs_chromium

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
pytestmark = needs_chromium


def _next_week(weekday: int):
    today = timezone.now().astimezone(studio_tz()).date()
    return today - timedelta(days=today.weekday()) + timedelta(weeks=1, days=weekday)


def _shot(page, name):
    folder = os.environ.get("CALENDAR_SCREENSHOTS")
    if folder:
        page.screenshot(path=os.path.join(folder, name), full_page=True)


def _shades(page, day):
    """(top, bottom) in pixels of each shaded block in the day's column, top to bottom."""
    boxes = page.locator(f".fc-timegrid-col[data-date='{day.isoformat()}'] .fc-bg-event.off-hours")
    found = [boxes.nth(i).bounding_box() for i in range(boxes.count())]
    return sorted((round(b["y"]), round(b["y"] + b["height"])) for b in found)


def _line(page, hhmm):
    """The top of the half-hour row starting at ``hhmm``, in pixels."""
    return round(page.locator(f".fc-timegrid-slot-lane[data-time='{hhmm}:00']").bounding_box()["y"])


def test_the_week_shows_her_working_hours_and_her_day_off(browser, live_server):
    trainer = TrainerFactory(username="coach", first_name="Cora", last_name="Coach")
    av = Availability.objects.create(trainer=trainer)
    WorkingHours.objects.bulk_create(
        WorkingHours(availability=av, weekday=d, start_time=s, end_time=e)
        for d in range(5)
        for s, e in ((time(9), time(13)), (time(14), time(18)))
    )
    tuesday, wednesday, thursday = _next_week(1), _next_week(2), _next_week(3)
    DateOverride.objects.create(availability=av, date=wednesday, note="Course")
    DateOverride.objects.create(availability=av, date=thursday, start_time=time(7), end_time=time(11))
    Session.objects.create(
        trainer=trainer,
        client=ClientFactory(trainer=trainer, first_name="Robin", last_name="Runner"),
        starts_at=datetime.combine(tuesday, time(10), tzinfo=studio_tz()),
        location="Room Blue",
    )
    expect = sync_api.expect

    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    log_in(page, live_server.url, "coach", next_url=f"/calendar/%3Fdate%3D{tuesday.isoformat()}")
    expect(page.locator(".fc-bg-event.off-hours").first).to_be_attached()
    expect(page.locator(".fc-event:not(.fc-bg-event)")).to_contain_text("Robin Runner")
    page.evaluate("document.querySelector('.fc-scroller-liquid-absolute').scrollTop = 0")
    tolerance = 2

    def near(got, want):
        return all(abs(g - w) <= tolerance for g, w in zip(got, want, strict=True))

    # Tuesday: before 09:00, the 13:00–14:00 break and after 18:00.
    top = _line(page, "00:00")
    tue = _shades(page, tuesday)
    assert len(tue) == 3
    assert near([tue[0][0], tue[0][1]], [top, _line(page, "09:00")])
    assert near([tue[1][0], tue[1][1]], [_line(page, "13:00"), _line(page, "14:00")])
    assert near([tue[2][0]], [_line(page, "18:00")])
    # Wednesday off: one block, the whole day. Thursday: only 07:00–11:00 free.
    (wed,) = _shades(page, wednesday)
    assert near([wed[0], wed[1]], [top, tue[2][1]])
    thu = _shades(page, thursday)
    assert near([thu[0][1], thu[1][0]], [_line(page, "07:00"), _line(page, "11:00")])
    # The weekend is hers: shaded all day.
    assert len(_shades(page, _next_week(5))) == 1
    page.evaluate("window.fitcrmCalendar.scrollToTime('06:00')")
    _shot(page, "calendar-availability-week.png")

    # A phone: the list (no shading: it lists sessions), then the day view, shaded.
    phone = browser.new_page(viewport={"width": 390, "height": 844})
    log_in(phone, live_server.url, "coach", next_url=f"/calendar/%3Fdate%3D{tuesday.isoformat()}")
    expect(phone.locator(".fc-list-event")).to_contain_text("Robin Runner")
    phone.locator(".fc-timeGridDay-button").click()
    expect(phone.locator(".fc-bg-event.off-hours").first).to_be_attached()
    assert len(_shades(phone, tuesday)) == 3
    _shot(phone, "calendar-availability-phone-day.png")
