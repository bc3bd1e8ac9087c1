from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from common.timefmt import client_time, staff_datetime, staff_span, staff_time, utc_stamp

MADRID, LISBON, NEW_YORK = ZoneInfo("Europe/Madrid"), ZoneInfo("Europe/Lisbon"), ZoneInfo("America/New_York")
TEN_UTC = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def london_studio(settings):
    settings.STUDIO_TIME_ZONE = "Europe/London"


def test_staff_see_their_own_clock_and_the_clients_beside_it():
    with timezone.override(NEW_YORK):
        assert staff_time(TEN_UTC, MADRID) == "05:00 (Madrid 11:00)"
        assert staff_datetime(TEN_UTC, MADRID) == "Tue 01 Dec 2026 05:00 EST (Madrid 11:00)"
        assert staff_span(TEN_UTC, datetime(2026, 12, 1, 11, tzinfo=UTC), MADRID) == (
            "Tue 01 Dec 2026 05:00–06:00 EST (Madrid 11:00–12:00)"
        )


def test_the_clients_clock_is_left_out_when_it_reads_the_same():
    with timezone.override("Europe/London"):
        assert staff_time(TEN_UTC, LISBON) == "10:00"
        assert staff_datetime(TEN_UTC, None) == "Tue 01 Dec 2026 10:00 GMT"


def test_the_clients_date_is_named_when_it_is_another_day():
    late = datetime(2026, 12, 1, 23, 30, tzinfo=UTC)
    with timezone.override("Europe/London"):
        assert staff_time(late, MADRID) == "23:30 (Madrid Wed 02 Dec 00:30)"


def test_client_text_names_the_zone_only_when_its_clock_differs_from_the_studios():
    assert client_time(TEN_UTC, MADRID) == "11:00 CET"
    assert client_time(TEN_UTC, ZoneInfo("Europe/London")) == "10:00"
    assert client_time(TEN_UTC, LISBON) == "10:00"


def test_utc_stamp_does_not_depend_on_the_active_zone():
    with timezone.override(NEW_YORK):
        assert utc_stamp(TEN_UTC) == "2026-12-01 10:00 UTC"


@pytest.mark.django_db
def test_bookkeeping_rows_are_named_in_utc_whoever_asks():
    from automation.models import ScanState
    from messaging.models import WorkerHeartbeat

    with timezone.override(NEW_YORK):
        # Given in another zone (as an unsaved row may be), still named in UTC.
        in_new_york = TEN_UTC.astimezone(NEW_YORK)
        assert str(ScanState(name="scan", scanned_until=in_new_york)) == "scan: 2026-12-01 10:00:00 UTC"
        beat = WorkerHeartbeat(name="delivery", beat_at=in_new_york, worker="web1:42")
        assert str(beat) == "delivery: 2026-12-01 10:00:00 UTC (web1:42)"
