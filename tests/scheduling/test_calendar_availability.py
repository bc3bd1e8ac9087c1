"""The calendar shades the shown trainer's time outside her working hours: weekly hours,
a date's override instead, a day off all grey; her hours are on her clock, the shading
on the viewer's, across daylight-saving changes."""

import zoneinfo
from datetime import UTC, date, datetime, time, timedelta

import pytest
import time_machine

from clients.services import staff_set_timezone
from scheduling.availability import load_rules, working_ranges
from scheduling.calendar import selectors
from scheduling.models import Availability, DateOverride, WorkingHours

pytestmark = pytest.mark.django_db

LONDON = zoneinfo.ZoneInfo("Europe/London")
NEW_YORK = zoneinfo.ZoneInfo("America/New_York")
NOW = datetime(2027, 3, 20, 12, 0, tzinfo=UTC)
# Thursday 25 to Thursday 1 April 2027: London's clocks go forward on Sunday 28 March
# (New York's went forward on 14 March, so its clock is an hour nearer London's after).
WEEK = {"start": "2027-03-25T00:00:00", "end": "2027-04-01T00:00:00"}
WEEKDAYS = range(5)
NINE_TO_FIVE = ((time(9), time(17)),)


@pytest.fixture(autouse=True)
def frozen(settings):
    settings.STUDIO_TIME_ZONE = settings.TIME_ZONE = "Europe/London"
    with time_machine.travel(NOW, tick=False):
        yield


def hours(trainer, *, days=WEEKDAYS, ranges=NINE_TO_FIVE):
    av = Availability.objects.create(trainer=trainer)
    WorkingHours.objects.bulk_create(
        WorkingHours(availability=av, weekday=d, start_time=s, end_time=e) for d in days for s, e in ranges
    )
    return av


def utc(day, hour):
    return datetime(2027, 3, day, hour, tzinfo=UTC)


def shades(response):
    assert response.status_code == 200, response.content
    events = response.json()
    assert all(e["display"] == "background" and e["classNames"] == ["off-hours"] for e in events)
    return [(e["start"], e["end"]) for e in events]


def local_ranges(ranges, tz):
    return [f"{a.astimezone(tz):%a %H:%M}–{b.astimezone(tz):%H:%M}" for a, b in ranges]


# --- The ranges (a plain function over availability.load_rules) ------------------------------


def test_a_week_across_the_spring_change_stays_nine_to_five_on_her_clock(trainer):
    hours(trainer)
    start, end = datetime(2027, 3, 25, tzinfo=LONDON), datetime(2027, 4, 1, tzinfo=LONDON)
    ranges = selectors.working_ranges(trainer_id=trainer.pk, start=start, end=end)
    assert ranges == [
        (utc(25, 9), utc(25, 17)),  # GMT
        (utc(26, 9), utc(26, 17)),
        (utc(29, 8), utc(29, 16)),  # BST: an hour earlier in UTC
        (utc(30, 8), utc(30, 16)),
        (utc(31, 8), utc(31, 16)),
    ]
    assert local_ranges(ranges, LONDON) == [f"{d} 09:00–17:00" for d in ("Thu", "Fri", "Mon", "Tue", "Wed")]


def test_an_override_replaces_the_days_hours_and_a_day_off_has_none(trainer):
    av = hours(trainer)
    DateOverride.objects.create(
        availability=av, date=date(2027, 3, 30), start_time=time(12), end_time=time(14)
    )
    DateOverride.objects.create(
        availability=av, date=date(2027, 3, 30), start_time=time(15), end_time=time(16)
    )
    DateOverride.objects.create(availability=av, date=date(2027, 3, 31), note="Dentist")  # day off
    DateOverride.objects.create(  # a Saturday she works this once
        availability=av, date=date(2027, 3, 27), start_time=time(10), end_time=time(12)
    )
    start, end = datetime(2027, 3, 25, tzinfo=LONDON), datetime(2027, 4, 1, tzinfo=LONDON)
    ranges = selectors.working_ranges(trainer_id=trainer.pk, start=start, end=end)
    assert local_ranges(ranges, LONDON) == [
        "Thu 09:00–17:00",
        "Fri 09:00–17:00",
        "Sat 10:00–12:00",
        "Mon 09:00–17:00",
        "Tue 12:00–14:00",
        "Tue 15:00–16:00",
    ]


def test_an_edge_in_the_skipped_hour_falls_on_the_jump(trainer):
    # Sunday 28 March 2027: London's clocks go from 01:00 GMT to 02:00 BST.
    hours(trainer, days=[6], ranges=((time(0), time(1, 30)), (time(1, 30), time(4))))
    start, end = datetime(2027, 3, 28, tzinfo=LONDON), datetime(2027, 3, 29, tzinfo=LONDON)
    ranges = selectors.working_ranges(trainer_id=trainer.pk, start=start, end=end)
    # 00:00–01:00 GMT, then 02:00–04:00 BST: one range, with no time lost or added.
    assert ranges == [(utc(28, 0), utc(28, 3))]
    assert local_ranges(ranges, LONDON) == ["Sun 00:00–04:00"]


def test_ranges_are_cut_to_the_window_and_touching_ones_joined(trainer):
    hours(trainer, days=range(7), ranges=((time(0), time(12)), (time(12), time(23, 59))))
    start = datetime(2027, 3, 25, 10, tzinfo=LONDON)
    rules = load_rules(trainer=trainer, start=start, end=start + timedelta(hours=6))
    assert working_ranges(rules=rules, start=start, end=start + timedelta(hours=6)) == [
        (start, start + timedelta(hours=6))
    ]


def test_hours_are_on_the_trainers_clock(trainer):
    staff_set_timezone(user=trainer, timezone_name="America/New_York")
    hours(trainer, days=[3])  # Thursdays, 09:00–17:00 in New York
    start, end = datetime(2027, 3, 25, tzinfo=UTC), datetime(2027, 3, 26, tzinfo=UTC)
    ranges = selectors.working_ranges(trainer_id=trainer.pk, start=start, end=end)
    assert ranges == [(utc(25, 13), utc(25, 21))]


def test_no_availability_is_none_not_a_week_off(trainer):
    start = datetime(2027, 3, 25, tzinfo=UTC)
    assert selectors.working_ranges(trainer_id=trainer.pk, start=start, end=start + timedelta(days=7)) is None


def test_gaps_are_the_time_between_the_ranges():
    a, b = datetime(2027, 3, 25, tzinfo=UTC), datetime(2027, 3, 26, tzinfo=UTC)
    h = timedelta(hours=1)
    assert selectors.gaps([(a + 9 * h, a + 17 * h)], start=a, end=b) == [(a, a + 9 * h), (a + 17 * h, b)]
    assert selectors.gaps([], start=a, end=b) == [(a, b)]
    assert selectors.gaps([(a, b)], start=a, end=b) == []


# --- The endpoint -------------------------------------------------------------------------------


def test_a_trainer_sees_her_time_off_shaded_on_her_clock(trainer_client, trainer):
    av = hours(trainer)
    DateOverride.objects.create(
        availability=av, date=date(2027, 3, 30), start_time=time(12), end_time=time(14)
    )
    DateOverride.objects.create(availability=av, date=date(2027, 3, 31))  # day off
    assert shades(trainer_client.get("/calendar/availability/", WEEK)) == [
        ("2027-03-25T00:00:00", "2027-03-25T09:00:00"),
        ("2027-03-25T17:00:00", "2027-03-26T09:00:00"),
        ("2027-03-26T17:00:00", "2027-03-29T09:00:00"),  # the weekend, across the change
        ("2027-03-29T17:00:00", "2027-03-30T12:00:00"),
        ("2027-03-30T14:00:00", "2027-04-01T00:00:00"),  # the day off, all of it
    ]


def test_a_manager_in_another_zone_sees_a_chosen_trainers_hours_on_her_own_clock(
    manager_client, manager, trainer
):
    hours(trainer)  # 09:00–17:00 on the trainer's clock (the studio's, London)
    staff_set_timezone(user=manager, timezone_name="America/New_York")
    week = {**WEEK, "trainer": trainer.pk}
    assert shades(manager_client.get("/calendar/availability/", week))[:4] == [
        ("2027-03-25T00:00:00", "2027-03-25T05:00:00"),  # 09:00 GMT = 05:00 EDT
        ("2027-03-25T13:00:00", "2027-03-26T05:00:00"),
        ("2027-03-26T13:00:00", "2027-03-29T04:00:00"),  # 09:00 BST = 04:00 EDT
        ("2027-03-29T12:00:00", "2027-03-30T04:00:00"),
    ]


def test_another_trainers_hours_are_never_shown_to_a_trainer(trainer_client, trainer, other_trainer):
    hours(other_trainer, days=range(7))
    # She has none set up: nothing is shaded, whatever she asks for.
    assert shades(trainer_client.get("/calendar/availability/", {**WEEK, "trainer": other_trainer.pk})) == []
    hours(trainer, days=[3])  # Thursdays only
    response = trainer_client.get("/calendar/availability/", {**WEEK, "trainer": other_trainer.pk})
    assert shades(response) == [
        ("2027-03-25T00:00:00", "2027-03-25T09:00:00"),
        ("2027-03-25T17:00:00", "2027-04-01T00:00:00"),
    ]


def test_a_manager_sees_the_chosen_trainers_hours_and_none_for_several(
    manager_client, trainer, other_trainer
):
    hours(trainer, days=[3])
    hours(other_trainer, days=[4])
    mine = shades(manager_client.get("/calendar/availability/", {**WEEK, "trainer": other_trainer.pk}))
    assert mine[:2] == [
        ("2027-03-25T00:00:00", "2027-03-26T09:00:00"),
        ("2027-03-26T17:00:00", "2027-04-01T00:00:00"),
    ]
    both = {**WEEK, "trainer": [trainer.pk, other_trainer.pk]}
    assert shades(manager_client.get("/calendar/availability/", both)) == []
    # Not picked: she opens on the studio's trainers, two here, so nothing is shaded.
    assert shades(manager_client.get("/calendar/availability/", WEEK)) == []


@pytest.mark.parametrize("who", ["trainer", "manager"])
def test_availability_answers_in_at_most_five_queries(
    client, trainer, manager, who, django_assert_max_num_queries
):
    av = hours(trainer, days=range(7), ranges=((time(7), time(12)), (time(13), time(20))))
    DateOverride.objects.bulk_create(
        DateOverride(availability=av, date=date(2027, 3, 1) + timedelta(days=i)) for i in range(0, 60, 3)
    )
    client.force_login(trainer if who == "trainer" else manager)
    month = {"start": "2027-03-01T00:00:00", "end": "2027-05-01T00:00:00", "trainer": trainer.pk}
    # The login session, the user (with her zone), her groups, the trainer's availability
    # (with the trainer's zone), her weekly hours and overrides (one UNION).
    with django_assert_max_num_queries(5):
        response = client.get("/calendar/availability/", month)
    assert len(shades(response)) > 60


@pytest.mark.parametrize(
    "params",
    [{}, {"start": "2027-03-25"}, {"start": "2027-01-01", "end": "2027-12-31"}, {**WEEK, "trainer": "x"}],
)
def test_bad_parameters_are_a_400_with_the_reason(manager_client, params):
    response = manager_client.get("/calendar/availability/", params)
    assert response.status_code == 400 and response.json()["errors"]


def test_availability_needs_a_staff_login(client, trainer):
    hours(trainer)
    assert client.get("/calendar/availability/", WEEK).status_code == 403


def test_the_page_knows_where_to_ask(trainer_client):
    page = trainer_client.get("/calendar/")
    assert page.context["config"]["availabilityUrl"] == "/calendar/availability/"
    assert "Outside working hours" in page.content.decode()
