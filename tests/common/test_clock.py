from datetime import UTC, date, datetime

import time_machine
from django.utils import timezone

from common.clock import studio_midnight, studio_now, studio_today, studio_tz


def test_the_studio_clock_ignores_the_viewers_active_zone(settings):
    settings.STUDIO_TIME_ZONE = "Europe/London"
    late_evening_in_new_york = datetime(2026, 12, 1, 3, 30, tzinfo=UTC)  # 22:30 on the 30th in New York
    with timezone.override("America/New_York"):
        assert timezone.localdate(late_evening_in_new_york) == date(2026, 11, 30)
        assert studio_today(late_evening_in_new_york) == date(2026, 12, 1)
        assert studio_tz().key == "Europe/London"


def test_studio_today_defaults_to_now(settings):
    settings.STUDIO_TIME_ZONE = "Pacific/Auckland"
    with time_machine.travel(datetime(2026, 11, 30, 12, 0, tzinfo=UTC), tick=False):
        assert studio_today() == date(2026, 12, 1)
        assert studio_now().hour == 1


def test_studio_midnight_follows_daylight_saving(settings):
    settings.STUDIO_TIME_ZONE = "Europe/London"
    assert studio_midnight(date(2026, 1, 15)) == datetime(2026, 1, 15, 0, 0, tzinfo=UTC)
    assert studio_midnight(date(2026, 7, 15)) == datetime(2026, 7, 14, 23, 0, tzinfo=UTC)
