"""Free slots: a trainer's working hours minus her sessions (with buffers) and her days off.

Hours are wall-clock times on the trainer's own clock (``clients.timezones.staff_tz``),
turned into UTC one day at a time, so a 09:00–17:00 day stays 09:00–17:00 local on both
sides of a daylight-saving change. Start times are stepped on the wall clock: a wall
time the clocks skip is no slot, and a wall time they repeat is offered once (its
first occurrence).

Three queries whatever the range: the trainer's rules (with her zone), her weekly hours
and the overrides in range (one UNION), her scheduled sessions in range.
"""

from bisect import bisect_left
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.db.models import DateField, IntegerField, Value
from django.db.models.functions import Cast
from django.utils import timezone

from clients.timezones import staff_tz
from scheduling.models import MAX_DURATION_MINUTES, Availability, DateOverride, Session, WorkingHours


@dataclass(frozen=True)
class Rules:
    """What ``free_slots`` computes with, loaded once (tests build it directly too)."""

    tz: ZoneInfo
    weekly: dict  # weekday -> [(start time, end time)]
    overrides: dict  # date -> [(start time, end time)]; [] = day off
    buffer_before: timedelta
    buffer_after: timedelta
    notice: timedelta
    horizon: timedelta
    max_per_day: int | None
    interval: timedelta


def load_rules(*, trainer, start: datetime, end: datetime) -> Rules | None:
    """The trainer's availability for [start, end): two queries; None when she has none."""
    availability = (
        Availability.objects.select_related("trainer__staff_profile")
        .filter(trainer_id=getattr(trainer, "pk", trainer))
        .first()
    )
    if availability is None:
        return None
    tz = staff_tz(availability.trainer)
    first_day = start.astimezone(tz).date() - timedelta(days=1)
    last_day = end.astimezone(tz).date() + timedelta(days=1)
    # One round trip for both tables: the weekly rows carry no date, the overrides no weekday.
    weekly_rows = (
        WorkingHours.objects.filter(availability=availability)
        .order_by()
        .values_list("weekday", "start_time", "end_time", Value(None, output_field=DateField()))
    )
    override_rows = (
        DateOverride.objects.filter(availability=availability, date__gte=first_day, date__lte=last_day)
        .order_by()
        .values_list(Cast(Value(-1), IntegerField()), "start_time", "end_time", "date")
    )
    weekly, overrides = defaultdict(list), defaultdict(list)
    for weekday, start_time, end_time, day in weekly_rows.union(override_rows, all=True):
        if day is None:
            weekly[weekday].append((start_time, end_time))
        elif start_time is None:
            overrides[day] = None  # a day off beats any hours given for the same date
        elif overrides.get(day, []) is not None:
            overrides[day].append((start_time, end_time))
    return Rules(
        tz=tz,
        weekly={k: sorted(v) for k, v in weekly.items()},
        overrides={k: sorted(v) if v else [] for k, v in overrides.items()},
        buffer_before=timedelta(minutes=availability.buffer_before_minutes),
        buffer_after=timedelta(minutes=availability.buffer_after_minutes),
        notice=timedelta(hours=availability.minimum_notice_hours),
        horizon=timedelta(days=availability.horizon_days),
        max_per_day=availability.max_sessions_per_day,
        interval=timedelta(minutes=availability.slot_interval_minutes),
    )


def busy_sessions(*, trainer, start: datetime, end: datetime, tz: ZoneInfo, exclude_pk=None):
    """(starts_at, duration) of the trainer's scheduled sessions that can touch [start, end).

    Whole local days at both ends, so the per-day limit counts every session of a day.
    """
    day_from = datetime.combine(start.astimezone(tz).date(), time.min, tzinfo=tz)
    day_to = datetime.combine(end.astimezone(tz).date() + timedelta(days=1), time.min, tzinfo=tz)
    qs = Session.objects.filter(
        trainer_id=getattr(trainer, "pk", trainer),
        status=Session.Status.SCHEDULED,
        starts_at__gt=min(day_from, start - timedelta(minutes=MAX_DURATION_MINUTES + 240)),
        starts_at__lt=max(day_to, end + timedelta(minutes=240)),
    )
    if exclude_pk:
        qs = qs.exclude(pk=exclude_pk)
    return list(qs.order_by("starts_at").values_list("starts_at", "duration_minutes"))


def to_utc(day: date, wall: time, tz: ZoneInfo) -> datetime | None:
    """``wall`` on ``day`` in ``tz`` as UTC; None for a wall time the clocks skip."""
    local = datetime.combine(day, wall, tzinfo=tz)  # fold=0: a repeated time means its first
    moment = local.astimezone(UTC)
    if moment.astimezone(tz).replace(tzinfo=None) != local.replace(tzinfo=None):
        return None
    return moment


def _range_end(day: date, wall: time, tz: ZoneInfo) -> datetime:
    """A range's edge as UTC: an edge inside a skipped hour is the moment the clocks jump
    (a range ending there is cut short, one starting there starts when the day resumes)."""
    moment = to_utc(day, wall, tz)
    if moment is not None:
        return moment
    # The jump lies between the wall time read with the new offset (fold=1, earlier) and
    # with the old one (fold=0, later); zoneinfo does not say where: halve to the second.
    local = datetime.combine(day, wall, tzinfo=tz)
    low = int(local.replace(fold=1).timestamp())
    high = int(local.timestamp())
    old_offset = datetime.fromtimestamp(low, tz).utcoffset()
    while high - low > 1:
        middle = (low + high) // 2
        if datetime.fromtimestamp(middle, tz).utcoffset() == old_offset:
            low = middle
        else:
            high = middle
    return datetime.fromtimestamp(high, UTC)


def compute_slots(
    *, rules: Rules, sessions, duration_minutes: int, start: datetime, end: datetime, now: datetime
) -> list[datetime]:
    """The pure part of ``free_slots`` (no queries): candidate starts minus everything blocked."""
    tz, duration = rules.tz, timedelta(minutes=duration_minutes)
    earliest = max(start, now + rules.notice)
    latest = min(end, now + rules.horizon)
    if earliest >= latest:
        return []
    # A slot [a, a+d) is blocked by a session [s, e) when either the session with its
    # buffers overlaps the slot, or the slot with its own buffers overlaps the session.
    wide = max(rules.buffer_before, rules.buffer_after)
    blocked = []
    per_day = Counter()
    for starts_at, minutes in sessions:
        ends_at = starts_at + timedelta(minutes=minutes)
        blocked.append((starts_at, ends_at))
        per_day[starts_at.astimezone(tz).date()] += 1
    blocked.sort()
    block_starts = [s for s, _ in blocked]
    longest = max((e - s for s, e in blocked), default=timedelta(0))

    def is_free(a: datetime) -> bool:
        b = a + duration
        # Sessions starting before b + wide can matter; those starting earlier than
        # a - longest - wide have ended (with buffers) before a.
        i = bisect_left(block_starts, a - longest - wide)
        while i < len(blocked) and blocked[i][0] < b + wide:
            s, e = blocked[i]
            if (a < e + rules.buffer_after and b > s - rules.buffer_before) or (
                a - rules.buffer_before < e and b + rules.buffer_after > s
            ):
                return False
            i += 1
        return True

    slots = []
    seen = {}
    for day, range_start, range_end, _, ends in working_hours(
        rules=rules, first_day=earliest.astimezone(tz).date(), last_day=latest.astimezone(tz).date()
    ):
        if rules.max_per_day and per_day[day] >= rules.max_per_day:
            continue
        seen_today = seen.setdefault(day, set())
        wall = datetime.combine(day, range_start)
        stop = datetime.combine(day, range_end)
        while wall < stop:
            a = to_utc(day, wall.time(), tz)
            if (
                a is not None
                and a not in seen_today
                and earliest <= a < latest
                and a + duration <= ends
                and is_free(a)
            ):
                seen_today.add(a)
                slots.append(a)
            wall += rules.interval
    return sorted(slots)


def hours_on(rules: Rules, day: date) -> list[tuple[time, time]]:
    """The wall-clock ranges the trainer works on ``day``: the date's override (``[]``:
    a day off) or else her weekly hours for that weekday."""
    ranges = rules.overrides.get(day)
    return rules.weekly.get(day.weekday(), []) if ranges is None else ranges


def working_hours(*, rules: Rules, first_day: date, last_day: date):
    """Each working range of the trainer's local days ``first_day``..``last_day``, in
    order: ``(day, start wall time, end wall time, start UTC, end UTC)``.

    Each day's wall times become UTC with that day's offset, so hours stay put on her
    clock across a daylight-saving change; an edge in an hour the clocks skip falls
    on the jump. Free slots step through these ranges; the calendar shades them.
    """
    tz = rules.tz
    day = first_day
    while day <= last_day:
        for range_start, range_end in hours_on(rules, day):
            yield (
                day,
                range_start,
                range_end,
                _range_end(day, range_start, tz),
                _range_end(day, range_end, tz),
            )
        day += timedelta(days=1)


def working_ranges(*, rules: Rules, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
    """The trainer's working time inside [start, end) as (start, end) UTC ranges, in order,
    touching ranges joined (no queries)."""
    found = []
    for *_, a, b in working_hours(
        rules=rules, first_day=start.astimezone(rules.tz).date(), last_day=end.astimezone(rules.tz).date()
    ):
        a, b = max(a, start), min(b, end)
        if a >= b:
            continue
        if found and a <= found[-1][1]:
            found[-1] = (found[-1][0], max(found[-1][1], b))
        else:
            found.append((a, b))
    return found


def free_slots(
    *,
    trainer,
    duration_minutes: int,
    start: datetime,
    end: datetime,
    now: datetime | None = None,
    exclude_pk=None,
) -> list[datetime]:
    """Start times (aware, UTC) at which the trainer can take a session of this length.

    ``exclude_pk`` leaves one session out of the busy time (the one being moved).
    """
    now = now or timezone.now()
    rules = load_rules(trainer=trainer, start=start, end=end)
    if rules is None:
        return []
    sessions = busy_sessions(trainer=trainer, start=start, end=end, tz=rules.tz, exclude_pk=exclude_pk)
    return compute_slots(
        rules=rules, sessions=sessions, duration_minutes=duration_minutes, start=start, end=end, now=now
    )


def is_free_slot(*, trainer, duration_minutes: int, starts_at: datetime, now=None, exclude_pk=None) -> bool:
    """Is ``starts_at`` still one of the trainer's free slots (checked again at booking)?"""
    return starts_at in free_slots(
        trainer=trainer,
        duration_minutes=duration_minutes,
        start=starts_at,
        end=starts_at + timedelta(minutes=duration_minutes),
        now=now,
        exclude_pk=exclude_pk,
    )
