"""Property tests for free slots: whatever the hours, overrides and sessions, no slot is ever
inside a session, its buffers, a day off, outside the day's hours, or inside the notice window.

Generated around both of Europe/London's 2027 changes and in zones with other rules
(a 30-minute shift on Lord Howe Island), so the wall-clock conversions are exercised too.
"""

import zoneinfo
from collections import Counter
from datetime import UTC, date, datetime, time, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scheduling.availability import Rules, compute_slots, to_utc

ZONES = [
    zoneinfo.ZoneInfo(name) for name in ("Europe/London", "America/New_York", "Australia/Lord_Howe", "UTC")
]
ANCHORS = [
    datetime(2027, 3, 25, tzinfo=UTC),
    datetime(2027, 10, 28, tzinfo=UTC),
    datetime(2027, 4, 1, tzinfo=UTC),
]


@st.composite
def time_ranges(draw):
    start = draw(st.integers(0, 23 * 4 - 1)) * 15
    end = draw(st.integers(start // 15 + 1, 23 * 4 + 3)) * 15
    return time(start // 60, start % 60), time(min(end, 23 * 60 + 59) // 60, min(end, 23 * 60 + 59) % 60)


@st.composite
def scenarios(draw):
    tz = draw(st.sampled_from(ZONES))
    anchor = draw(st.sampled_from(ANCHORS))
    days = [(anchor + timedelta(days=n)).astimezone(tz).date() for n in range(-1, 8)]
    weekly = {wd: sorted(draw(st.lists(time_ranges(), max_size=3))) for wd in range(7)}
    overrides = {}
    for d in draw(st.lists(st.sampled_from(days), max_size=3, unique=True)):
        overrides[d] = sorted(draw(st.lists(time_ranges(), max_size=2)))  # [] = day off
    rules = Rules(
        tz=tz,
        weekly=weekly,
        overrides=overrides,
        buffer_before=timedelta(minutes=draw(st.sampled_from([0, 5, 15, 30]))),
        buffer_after=timedelta(minutes=draw(st.sampled_from([0, 10, 15, 45]))),
        notice=timedelta(hours=draw(st.integers(0, 48))),
        horizon=timedelta(days=draw(st.integers(1, 10))),
        max_per_day=draw(st.one_of(st.none(), st.integers(1, 4))),
        interval=timedelta(minutes=draw(st.sampled_from([15, 20, 30, 60]))),
    )
    sessions = sorted(
        draw(
            st.lists(
                st.tuples(
                    st.integers(-24 * 4, 24 * 4 * 8).map(lambda q: anchor + timedelta(minutes=15 * q)),
                    st.sampled_from([30, 45, 60, 90]),
                ),
                max_size=12,
            )
        )
    )
    now = anchor + timedelta(minutes=draw(st.integers(-24 * 60, 3 * 24 * 60)))
    start = anchor + timedelta(hours=draw(st.integers(-12, 48)))
    end = start + timedelta(days=draw(st.integers(1, 7)))
    duration = draw(st.sampled_from([30, 45, 60, 90]))
    return rules, sessions, now, start, end, duration


def ranges_of(rules, day):
    return rules.overrides[day] if day in rules.overrides else rules.weekly.get(day.weekday(), [])


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_no_slot_ever_overlaps_a_session_buffer_override_or_the_notice_window(scenario):
    rules, sessions, now, start, end, duration_minutes = scenario
    slots = compute_slots(
        rules=rules, sessions=sessions, duration_minutes=duration_minutes, start=start, end=end, now=now
    )
    duration = timedelta(minutes=duration_minutes)
    assert slots == sorted(set(slots)), "sorted, none doubled"
    per_day = Counter(s.astimezone(rules.tz).date() for s, _ in sessions)
    for a in slots:
        b = a + duration
        assert a.tzinfo is UTC
        assert start <= a < end
        assert a >= now + rules.notice, "inside the notice window"
        assert a < now + rules.horizon, "beyond the booking horizon"
        for s_start, minutes in sessions:
            s_end = s_start + timedelta(minutes=minutes)
            assert not (a < s_end + rules.buffer_after and b > s_start - rules.buffer_before), (
                "overlaps a session or its buffers"
            )
            assert not (a - rules.buffer_before < s_end and b + rules.buffer_after > s_start), (
                "its own buffers overlap a session"
            )
        local = a.astimezone(rules.tz)
        day = local.date()
        assert rules.max_per_day is None or per_day[day] < rules.max_per_day
        # Inside one of that date's ranges (the override's if the date has one), on the wall
        # clock, and a real (not skipped) wall time.
        assert to_utc(day, local.time().replace(tzinfo=None), rules.tz) == a
        assert any(
            to_utc(day, r_start, rules.tz) is not None
            and to_utc(day, r_start, rules.tz) <= a
            and b <= datetime.combine(day, r_end, tzinfo=rules.tz).astimezone(UTC)
            for r_start, r_end in ranges_of(rules, day)
        ) or any(
            # A range that opens in the skipped hour starts when the clocks land.
            datetime.combine(day, r_start, tzinfo=rules.tz).astimezone(UTC) <= a
            and b <= datetime.combine(day, r_end, tzinfo=rules.tz).astimezone(UTC)
            for r_start, r_end in ranges_of(rules, day)
        ), "outside the day's hours (or on a day off)"


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(ZONES), st.sampled_from(ANCHORS), st.sampled_from([15, 30, 60]))
def test_a_free_day_offers_every_real_wall_time_once(tz, anchor, step):
    day = anchor.astimezone(tz).date() + timedelta(days=3)
    rules = Rules(
        tz=tz,
        weekly={day.weekday(): [(time(0), time(23, 59))]},
        overrides={},
        buffer_before=timedelta(0),
        buffer_after=timedelta(0),
        notice=timedelta(0),
        horizon=timedelta(days=30),
        max_per_day=None,
        interval=timedelta(minutes=step),
    )
    start = datetime.combine(day, time.min, tzinfo=tz)
    slots = compute_slots(
        rules=rules,
        sessions=[],
        duration_minutes=step,
        start=start,
        end=start + timedelta(days=1),
        now=anchor,
    )
    walls = [s.astimezone(tz).time() for s in slots]
    assert len(walls) == len(set(walls))
    expected = [
        t for m in range(0, 24 * 60 - step, step) if to_utc(day, t := time(m // 60, m % 60), tz) is not None
    ]
    assert walls[: len(expected)] == expected


def test_date_helper_skips_the_missing_hour():
    london = zoneinfo.ZoneInfo("Europe/London")
    assert to_utc(date(2027, 3, 28), time(1, 30), london) is None
    assert to_utc(date(2027, 10, 31), time(1, 30), london) == datetime(2027, 10, 31, 0, 30, tzinfo=UTC)
