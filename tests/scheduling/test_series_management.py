"""A weekly series managed as a whole: cancel or move this occurrence and all following."""

import zoneinfo
from datetime import datetime, time

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.urls import reverse

from clients.services import staff_set_timezone
from scheduling import services
from scheduling.models import Session
from tests.factories import ClientFactory, SessionFactory

pytestmark = pytest.mark.django_db
LONDON = zoneinfo.ZoneInfo("Europe/London")
NEW_YORK = zoneinfo.ZoneInfo("America/New_York")
NOW = datetime(2027, 3, 1, 12, tzinfo=LONDON)


@pytest.fixture(autouse=True)
def frozen(settings):
    settings.STUDIO_TIME_ZONE = "Europe/London"
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def series(trainer, client_obj):
    # Tuesdays 09:00 London, 2 Mar to 6 Apr 2027 (Britain changes clocks on 28 Mar).
    result = services.session_book_weekly_series(
        trainer=trainer,
        client=client_obj,
        first_starts_at=datetime(2027, 3, 2, 9, tzinfo=LONDON),
        occurrences=6,
    )
    assert len(result.booked) == 6
    return result.booked


def london(sessions):
    return [s.starts_at.astimezone(LONDON).strftime("%a %d %b %H:%M") for s in sessions]


def reload(sessions):
    return list(Session.objects.filter(pk__in=[s.pk for s in sessions]).order_by("starts_at"))


class TestCancelFollowing:
    def test_cancels_this_and_the_later_ones_only(self, series):
        result = services.series_cancel_following(session=series[2])
        assert result.series == series[0].series and result.action == "cancel"
        assert [s.pk for s, _ in result.changed] == [s.pk for s in series[2:]]
        assert result.dates == [s.starts_at for s in series[2:]]
        assert result.failed == []
        statuses = [s.status for s in reload(series)]
        assert statuses == ["scheduled", "scheduled", "cancelled", "cancelled", "cancelled", "cancelled"]

    def test_an_occurrence_already_cancelled_is_left_alone(self, series):
        services.session_cancel(session=series[4])
        result = services.series_cancel_following(session=series[3])
        assert [s.pk for s, _ in result.changed] == [series[3].pk, series[5].pk]

    def test_a_session_outside_a_series_is_refused(self, client_obj):
        with pytest.raises(ValidationError, match="not part of a series"):
            services.series_cancel_following(session=SessionFactory(client=client_obj))


class TestMoveFollowing:
    def test_moves_the_time_of_day_on_the_trainers_clock_across_dst(self, series):
        result = services.series_move_following(session=series[1], new_time=time(18, 30))
        assert [before for _, before in result.changed] == [s.starts_at for s in series[1:]]
        assert london(reload(series)) == [
            "Tue 02 Mar 09:00",
            "Tue 09 Mar 18:30",
            "Tue 16 Mar 18:30",
            "Tue 23 Mar 18:30",
            "Tue 30 Mar 18:30",
            "Tue 06 Apr 18:30",
        ]
        assert result.dates == [s.starts_at for s in reload(series)[1:]]

    def test_moves_the_weekday_within_each_week(self, series):
        services.series_move_following(session=series[4], weekday=3)  # Thursday
        assert london(reload(series))[3:] == ["Tue 23 Mar 09:00", "Thu 01 Apr 09:00", "Thu 08 Apr 09:00"]

    def test_a_clashing_week_stays_put_and_is_reported(self, series, trainer):
        blocker = SessionFactory(
            client=ClientFactory(trainer=trainer), starts_at=datetime(2027, 3, 23, 18, tzinfo=LONDON)
        )
        result = services.series_move_following(session=series[1], new_time=time(18, 30))
        [(session, wanted, reasons)] = result.failed
        assert session.pk == series[3].pk
        assert wanted == datetime(2027, 3, 23, 18, 30, tzinfo=LONDON)
        assert f"session #{blocker.pk}" in reasons[0]
        assert len(result.changed) == 4
        assert london(reload(series))[3] == "Tue 23 Mar 09:00"

    def test_an_occurrence_that_would_land_in_the_past_is_reported(self, series):
        # Tuesday 2 Mar -> Monday 1 Mar 09:00, which is before "now" (Mon 1 Mar 12:00).
        result = services.series_move_following(session=series[0], weekday=0)
        [(session, _, reasons)] = result.failed
        assert session.pk == series[0].pk
        assert "is in the past" in reasons[0]
        assert len(result.changed) == 5

    def test_the_trainers_own_zone_is_the_clock(self, trainer, client_obj):
        staff_set_timezone(user=trainer, timezone_name="America/New_York")
        booked = services.session_book_weekly_series(
            trainer=trainer,
            client=client_obj,
            first_starts_at=datetime(2027, 3, 2, 9, tzinfo=NEW_YORK),
            occurrences=3,
        ).booked
        services.series_move_following(session=booked[0], new_time=time(7, 0))
        # New York changes clocks on 14 Mar; her 07:00 stays 07:00.
        assert {s.starts_at.astimezone(NEW_YORK).strftime("%H:%M") for s in reload(booked)} == {"07:00"}

    def test_nothing_to_move_is_refused(self, series):
        with pytest.raises(ValidationError):
            services.series_move_following(session=series[0])


class TestAdmin:
    def login(self, client, user):
        client.force_login(user)  # after the clock was frozen: the login is fresh
        return client

    def test_the_change_page_offers_both_actions(self, client, trainer, series):
        page = self.login(client, trainer).get(
            reverse("admin:scheduling_session_change", args=[series[2].pk])
        )
        html = page.content.decode()
        assert reverse("admin:scheduling_session_series_move", args=[series[2].pk]) in html
        assert reverse("admin:scheduling_session_series_cancel", args=[series[2].pk]) in html
        assert "Session 3 of 6; 4 still scheduled from this one on." in html

    def test_cancel_asks_first_then_cancels_and_summarises(self, client, trainer, series):
        client = self.login(client, trainer)
        url = reverse("admin:scheduling_session_series_cancel", args=[series[3].pk])
        page = client.get(url).content.decode()
        assert page.count("<li>Tue") == 3
        assert all(s.status == "scheduled" for s in reload(series))
        response = client.post(url)
        assert [str(m) for m in response.context["messages"]] == ["3 occurrences cancelled."]
        assert [s.status for s in reload(series)].count("cancelled") == 3

    def test_move_lists_what_could_not_be_moved(self, client, trainer, series):
        SessionFactory(
            client=ClientFactory(trainer=trainer), starts_at=datetime(2027, 3, 23, 18, tzinfo=LONDON)
        )
        client = self.login(client, trainer)
        url = reverse("admin:scheduling_session_series_move", args=[series[1].pk])
        response = client.post(url, {"new_time": "18:30", "weekday": ""})
        html = response.content.decode()
        assert [str(m) for m in response.context["messages"]] == [
            "4 occurrences moved; 1 could not be and stay as they were (see below)."
        ]
        assert "Tue 09 Mar 2027 09:00 GMT → Tue 09 Mar 2027 18:30 GMT" in html
        # The breadcrumb names the session where it is now.
        assert "— Tue 09 Mar 2027 18:30 GMT</a> › Move this and all following sessions" in html
        assert 'id="series-failed"' in html
        assert "(to Tue 23 Mar 2027 18:30 GMT): The trainer already has a session" in html

    def test_an_empty_move_is_a_form_error(self, client, trainer, series):
        url = reverse("admin:scheduling_session_series_move", args=[series[1].pk])
        response = self.login(client, trainer).post(url, {"new_time": "", "weekday": ""})
        assert "Choose a new time of day, a new weekday, or both." in response.content.decode()

    def test_another_trainers_series_is_out_of_reach(self, client, other_trainer, series):
        client = self.login(client, other_trainer)
        for name in ("scheduling_session_series_cancel", "scheduling_session_series_move"):
            response = client.post(reverse(f"admin:{name}", args=[series[0].pk]), {"new_time": "18:00"})
            assert response.status_code == 302
        assert all(s.status == "scheduled" for s in reload(series))
        assert {t[-5:] for t in london(reload(series))} == {"09:00"}
