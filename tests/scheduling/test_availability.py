"""Free slots: working hours minus sessions, buffers, overrides, notice; on the trainer's clock."""

import zoneinfo
from datetime import UTC, date, datetime, time, timedelta

import pytest

from clients.models import StaffProfile
from scheduling.availability import free_slots
from scheduling.models import Availability, DateOverride, Session, WorkingHours
from tests.factories import ClientFactory, SessionFactory

pytestmark = pytest.mark.django_db
LONDON = zoneinfo.ZoneInfo("Europe/London")
NOW = datetime(2027, 3, 1, 0, 0, tzinfo=UTC)


def availability(trainer, *, days=range(7), hours=((time(9), time(17)),), **rules):
    rules = {"minimum_notice_hours": 0, "horizon_days": 366, "slot_interval_minutes": 60, **rules}
    av = Availability.objects.create(trainer=trainer, **rules)
    WorkingHours.objects.bulk_create(
        WorkingHours(availability=av, weekday=d, start_time=s, end_time=e) for d in days for s, e in hours
    )
    return av


def local(slots, tz=LONDON):
    return [s.astimezone(tz).strftime("%a %d %H:%M") for s in slots]


def day(d, tz=LONDON):
    start = datetime.combine(d, time.min, tzinfo=tz)
    return {"start": start, "end": start + timedelta(days=1)}


def test_slots_are_the_working_hours_stepped_at_the_interval(trainer):
    availability(trainer, hours=((time(9), time(12)), (time(14), time(16))))
    slots = free_slots(trainer=trainer, duration_minutes=60, now=NOW, **day(date(2027, 3, 2)))
    assert local(slots) == ["Tue 02 09:00", "Tue 02 10:00", "Tue 02 11:00", "Tue 02 14:00", "Tue 02 15:00"]
    assert all(s.tzinfo is UTC for s in slots)


def test_a_session_and_its_buffers_block_the_slots_around_it(trainer):
    availability(trainer, slot_interval_minutes=30, buffer_before_minutes=15, buffer_after_minutes=30)
    SessionFactory(trainer=trainer, starts_at=datetime(2027, 3, 2, 12, tzinfo=UTC), duration_minutes=60)
    slots = local(free_slots(trainer=trainer, duration_minutes=60, now=NOW, **day(date(2027, 3, 2))))
    # 11:00 would end at noon, inside the session's 15-minute lead-in; 13:00 is inside its 30 minutes after.
    assert "Tue 02 10:30" in slots and "Tue 02 11:00" not in slots
    assert "Tue 02 13:00" not in slots and "Tue 02 13:30" in slots
    assert not any("11:" in s or "12:" in s for s in slots)


def test_cancelled_sessions_do_not_block(trainer):
    availability(trainer)
    SessionFactory(
        trainer=trainer, starts_at=datetime(2027, 3, 2, 10, tzinfo=UTC), status=Session.Status.CANCELLED
    )
    assert "Tue 02 10:00" in local(
        free_slots(trainer=trainer, duration_minutes=60, now=NOW, **day(date(2027, 3, 2)))
    )


def test_a_day_off_and_different_hours_on_a_date(trainer):
    av = availability(trainer)
    DateOverride.objects.create(availability=av, date=date(2027, 3, 2), note="Dentist")
    DateOverride.objects.create(
        availability=av, date=date(2027, 3, 3), start_time=time(18), end_time=time(20)
    )
    assert free_slots(trainer=trainer, duration_minutes=60, now=NOW, **day(date(2027, 3, 2))) == []
    slots = free_slots(trainer=trainer, duration_minutes=60, now=NOW, **day(date(2027, 3, 3)))
    assert local(slots) == ["Wed 03 18:00", "Wed 03 19:00"]


def test_minimum_notice_horizon_and_daily_limit(trainer):
    availability(trainer, minimum_notice_hours=12, horizon_days=2, max_sessions_per_day=1)
    now = datetime(2027, 3, 1, 0, 0, tzinfo=UTC)  # Monday midnight
    week = {"start": now, "end": now + timedelta(days=7)}
    slots = free_slots(trainer=trainer, duration_minutes=60, now=now, **week)
    assert slots[0] == datetime(2027, 3, 1, 12, tzinfo=UTC)  # 12 hours' notice
    assert slots[-1] < now + timedelta(days=2)
    SessionFactory(trainer=trainer, starts_at=datetime(2027, 3, 2, 9, tzinfo=UTC))
    slots = free_slots(trainer=trainer, duration_minutes=60, now=now, **week)
    assert not any(s.date() == date(2027, 3, 2) for s in slots), "Tuesday already has its one session"


def test_no_availability_means_no_slots(trainer):
    assert free_slots(trainer=trainer, duration_minutes=60, now=NOW, **day(date(2027, 3, 2))) == []


def test_hours_are_on_the_trainers_own_clock(trainer):
    StaffProfile.objects.create(user=trainer, timezone="America/New_York")
    availability(trainer, hours=((time(9), time(10)),))
    trainer.refresh_from_db()
    slots = free_slots(trainer=trainer, duration_minutes=60, now=NOW, **day(date(2027, 3, 2)))
    assert slots == [datetime(2027, 3, 2, 14, tzinfo=UTC)]  # 09:00 EST


def test_four_weeks_of_slots_in_three_queries(trainer, django_assert_max_num_queries):
    av = availability(trainer, buffer_after_minutes=10, max_sessions_per_day=6)
    DateOverride.objects.create(availability=av, date=date(2027, 3, 10))
    client = ClientFactory(trainer=trainer)
    for n in range(20):
        SessionFactory(trainer=trainer, client=client, starts_at=datetime(2027, 3, 2 + n, 10, tzinfo=UTC))
    # 1. the availability with the trainer and her zone, 2. weekly hours UNION overrides in range,
    # 3. scheduled sessions in range.
    with django_assert_max_num_queries(3):
        slots = free_slots(
            trainer=trainer, duration_minutes=60, now=NOW, start=NOW, end=NOW + timedelta(weeks=4)
        )
    assert len(slots) > 100


# --- Daylight saving (Europe/London: 28 March and 31 October 2027) -----------------


def test_a_nine_to_five_day_stays_nine_to_five_local_across_the_spring_change(trainer):
    availability(trainer)
    slots = free_slots(
        trainer=trainer,
        duration_minutes=60,
        now=NOW,
        start=datetime(2027, 3, 27, tzinfo=UTC),
        end=datetime(2027, 3, 30, tzinfo=UTC),
    )
    by_day = {}
    for s in slots:
        by_day.setdefault(s.astimezone(LONDON).date(), []).append(s.astimezone(LONDON).strftime("%H:%M"))
    expected = [f"{h:02d}:00" for h in range(9, 17)]
    assert by_day[date(2027, 3, 27)] == by_day[date(2027, 3, 29)] == expected
    assert slots[slots.index(datetime(2027, 3, 27, 9, tzinfo=UTC))]  # 09:00 GMT
    assert datetime(2027, 3, 29, 8, tzinfo=UTC) in slots  # 09:00 BST


def test_no_slot_in_the_skipped_hour(trainer):
    availability(trainer, days=[6], hours=((time(0), time(4)),), slot_interval_minutes=30)
    slots = free_slots(trainer=trainer, duration_minutes=30, now=NOW, **day(date(2027, 3, 28)))
    walls = [s.astimezone(LONDON).strftime("%H:%M") for s in slots]
    assert walls == ["00:00", "00:30", "02:00", "02:30", "03:00", "03:30"]
    assert len(set(slots)) == len(slots)


def test_the_repeated_hour_is_offered_once(trainer):
    availability(trainer, days=[6], hours=((time(0), time(3)),), slot_interval_minutes=30)
    slots = free_slots(trainer=trainer, duration_minutes=30, now=NOW, **day(date(2027, 10, 31)))
    walls = [s.astimezone(LONDON).strftime("%H:%M") for s in slots]
    assert walls == ["00:00", "00:30", "01:00", "01:30", "02:00", "02:30"]
    # 01:00 is its first occurrence (BST), an hour before the clocks go back.
    assert datetime(2027, 10, 31, 0, 0, tzinfo=UTC) in slots


def test_a_nine_to_five_day_stays_nine_to_five_local_across_the_autumn_change(trainer):
    availability(trainer)
    slots = free_slots(
        trainer=trainer,
        duration_minutes=60,
        now=NOW,
        start=datetime(2027, 10, 30, tzinfo=UTC),
        end=datetime(2027, 11, 2, tzinfo=UTC),
    )
    assert datetime(2027, 10, 30, 8, tzinfo=UTC) in slots  # 09:00 BST
    assert datetime(2027, 11, 1, 9, tzinfo=UTC) in slots  # 09:00 GMT
    assert len(slots) == 8 * 3
