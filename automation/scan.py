"""The time-based scan: one function, ``scan(now=...)``, behind all three entry points
(the django-q2 schedule, ``manage.py run_triggers`` and ``POST /automation/run-triggers/``).

Each scan looks at the window from where the previous scan got to
(``ScanState``) up to ``now``: after downtime the window is simply longer, so
what fell due during the outage still goes (bounded by
``AUTOMATION_MAX_CATCHUP_HOURS``), while the engine's re-check keeps anything
stale (a session that already started) from being sent late. Two scans that
overlap look at overlapping windows; the AutomationLog constraint makes that
harmless.

Every query is a range query on an indexed column (sessions by
``(status, starts_at)``, payments by ``(status, due_date)`` and
``(status, overdue_at)``), one per kind of event, not one per rule: the cost
follows the number of occurrences due, not the size of the tables.
"""

import functools
import logging
import zoneinfo
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from datetime import timezone as dt_timezone
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from automation import engine
from automation.engine import FireResult, Occurrence
from automation.models import AutomationRule, ScanState, TriggerEvent
from billing.credits import packages_with_credits
from billing.models import ClientPackage, Payment
from clients.models import Client
from common.clock import studio_midnight, studio_tz
from scheduling.models import Session

logger = logging.getLogger(__name__)

STATE_NAME = "time-triggers"
TIME_EVENTS = (
    TriggerEvent.SESSION_SCHEDULED,
    TriggerEvent.PAYMENT_DUE,
    TriggerEvent.PAYMENT_OVERDUE,
    TriggerEvent.BIRTHDAY,
    TriggerEvent.PACKAGE_EXPIRING,
)


@dataclass
class ScanResult:
    now: datetime
    window_start: datetime
    dry_run: bool
    rules: list = field(default_factory=list)
    fired: FireResult = field(default_factory=FireResult)
    turned_overdue: int = 0
    errors: list = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def summary(self) -> list[str]:
        verb = "would turn" if self.dry_run else "turned"
        lines = [
            f"Scan {'(dry run) ' if self.dry_run else ''}window {self.window_start.isoformat()} → "
            f"{self.now.isoformat()}: {self.turned_overdue} payment(s) {verb} overdue."
        ]
        for rule in self.rules:
            c = self.fired.per_rule.get(rule.pk, {})
            if self.dry_run:
                counts = f"would send {c.get(engine.WOULD_SEND, 0)}, would skip {c.get('skipped', 0)}"
            else:
                counts = (
                    f"fired {c.get('sent', 0)}, skipped {c.get('skipped', 0)}, failed {c.get('failed', 0)}"
                )
            lines.append(
                f"  {rule.name} [{rule.trigger_event}]: {counts}, already done {c.get(engine.ALREADY, 0)}"
            )
        lines += [f"  ERROR {error}" for error in self.errors]
        return lines


def window_start(now: datetime) -> datetime:
    return window_start_after(scanned_until().first(), now)


def scanned_until():
    """Where the last scan got to (a one-value queryset: usable as a subquery)."""
    return ScanState.objects.filter(name=STATE_NAME).values_list("scanned_until", flat=True)


def window_start_after(last: datetime | None, now: datetime) -> datetime:
    """Where a scan at ``now`` starts, given where the last one got to (``None``: never)."""
    if last is None or last >= now:
        # First scan ever, or a --now scan behind the recorded state: look back a little.
        last = now - timedelta(minutes=settings.AUTOMATION_FIRST_LOOKBACK_MINUTES)
    return max(last, now - timedelta(hours=settings.AUTOMATION_MAX_CATCHUP_HOURS))


def _advance(now: datetime):
    if not ScanState.objects.filter(name=STATE_NAME, scanned_until__lt=now).update(scanned_until=now):
        ScanState.objects.get_or_create(name=STATE_NAME, defaults={"scanned_until": now})


def turn_overdue(*, now: datetime, dry_run: bool = False) -> int:
    """Pending payments whose due date has passed in the studio's zone become overdue.

    A conditional bulk update: a payment is turned once, by whichever scan gets
    there first; ``overdue_at = now`` puts it in this scan's overdue window, which
    fires the offset-0 overdue rules (later offsets count from here).
    """
    today = now.astimezone(studio_tz()).date()
    due = Payment.objects.filter(status=Payment.Status.PENDING, due_date__lt=today)
    if dry_run:
        return due.count()
    return due.update(status=Payment.Status.OVERDUE, overdue_at=now, updated_at=now)


def _rule_start(rule, start):
    # A rule never fires for what fell due before it existed.
    return max(start, rule.created_at)


def _or(ranges, field_name) -> Q:
    q = Q()
    for lo, hi in sorted(set(ranges)):
        q |= Q(**{f"{field_name}__gt": lo, f"{field_name}__lte": hi})
    return q


# --- One finder per event ------------------------------------------------------------------


def find_session_reminders(rules, start, now, *, forecast: bool = False) -> list[Occurrence]:
    """``offset_hours`` before ``starts_at``, for sessions booked before that moment
    (later bookings are the event handler's, under the rule's late-booking policy).

    A scan at ``now`` leaves out sessions that have started by ``now``. With
    ``forecast`` (``now`` is then a moment ahead, see automation.forecast) each session
    is judged as the scan at its own due moment will judge it: started by then or not.
    """
    windows = {rule.pk: (_rule_start(rule, start), now) for rule in rules}
    offsets = {rule.pk: timedelta(hours=rule.offset_hours) for rule in rules}
    q = _or(
        ((lo + offsets[r.pk], hi + offsets[r.pk]) for r in rules for lo, hi in [windows[r.pk]]), "starts_at"
    )
    rows = (
        Session.objects.filter(q, status=Session.Status.SCHEDULED, starts_at__gt=start if forecast else now)
        .order_by()
        .values_list("pk", "client_id", "starts_at", "created_at", "client__trainer_id")
    )
    found = []
    for pk, client_id, starts_at, created_at, trainer_id in rows:
        for rule in rules:
            lo, hi = windows[rule.pk]
            due = starts_at - offsets[rule.pk]
            if (
                lo < due <= hi
                and created_at <= due
                and rule.trainer_id in (None, trainer_id)
                and starts_at > (due if forecast else now)
            ):
                found.append(
                    Occurrence(
                        rule=rule,
                        key=engine.session_start_key(pk, starts_at),
                        client_id=client_id,
                        session_id=pk,
                        expect_start=starts_at,
                        due_at=due,
                        trainer_id=trainer_id,
                    )
                )
    return found


def _days_falling_due(rules, start, now, moment_of) -> set[date]:
    """The studio days whose ``moment_of(day)``, less a rule's offset, falls in that rule's
    scan window: the only dates worth reading rows for."""
    tz = studio_tz()
    dates = set()
    for rule in rules:
        offset = timedelta(hours=rule.offset_hours)
        lo, hi = _rule_start(rule, start) + offset, now + offset
        # A day before: a moment at the end of a day (midnight after it) belongs to it.
        day = lo.astimezone(tz).date() - timedelta(days=1)
        while day <= hi.astimezone(tz).date():
            if lo < moment_of(day) <= hi:
                dates.add(day)
            day += timedelta(days=1)
    return dates


def due_moment(due_date: date) -> datetime:
    """A payment is due at ``PAYMENT_DUE_LOCAL_HOUR`` on its due date, studio time."""
    return datetime.combine(due_date, time(settings.PAYMENT_DUE_LOCAL_HOUR), tzinfo=studio_tz())


def find_payment_due_reminders(rules, start, now) -> list[Occurrence]:
    """``offset_hours`` before the due date (the notice on creation is the event handler's)."""
    rules = [r for r in rules if r.offset_hours > 0]
    if not rules:
        return []
    dates = _days_falling_due(rules, start, now, due_moment)
    if not dates:
        return []
    rows = (
        Payment.objects.filter(status=Payment.Status.PENDING, due_date__in=dates)
        .order_by()
        .values_list("pk", "client_id", "due_date", "created_at", "client__trainer_id")
    )
    found = []
    for pk, client_id, due_date, created_at, trainer_id in rows:
        for rule in rules:
            remind_at = due_moment(due_date) - timedelta(hours=rule.offset_hours)
            if (
                _rule_start(rule, start) < remind_at <= now
                and created_at <= remind_at
                and rule.trainer_id in (None, trainer_id)
            ):
                found.append(
                    Occurrence(
                        rule=rule,
                        key=engine.payment_before_due_key(pk, due_date),
                        client_id=client_id,
                        payment_id=pk,
                        expect_status=Payment.Status.PENDING,
                        expect_due=due_date,
                        due_at=remind_at,
                        trainer_id=trainer_id,
                    )
                )
    return found


def find_overdue_notices(rules, start, now) -> list[Occurrence]:
    """``offset_hours`` after the payment turned overdue: day 1, day 7, day 14..."""
    offsets = {rule.pk: timedelta(hours=rule.offset_hours) for rule in rules}
    q = _or(((_rule_start(r, start) - offsets[r.pk], now - offsets[r.pk]) for r in rules), "overdue_at")
    rows = (
        Payment.objects.filter(q, status=Payment.Status.OVERDUE)
        .order_by()
        .values_list("pk", "client_id", "overdue_at", "client__trainer_id")
    )
    found = []
    for pk, client_id, overdue_at, trainer_id in rows:
        for rule in rules:
            if _rule_start(rule, start) < overdue_at + offsets[rule.pk] <= now and rule.trainer_id in (
                None,
                trainer_id,
            ):
                found.append(
                    Occurrence(
                        rule=rule,
                        key=engine.payment_overdue_key(pk, rule.offset_hours),
                        client_id=client_id,
                        payment_id=pk,
                        expect_status=Payment.Status.OVERDUE,
                        due_at=overdue_at + offsets[rule.pk],
                        trainer_id=trainer_id,
                    )
                )
    return found


@functools.cache
def _zone_names() -> tuple[str, ...]:
    return tuple(sorted(zoneinfo.available_timezones() | {settings.STUDIO_TIME_ZONE}))


@functools.cache
def _zones() -> tuple[tuple[str, ZoneInfo], ...]:
    # Held for the process: ZoneInfo's own cache keeps only a few zones, so building
    # ~600 of them each scan read their files again (most of a scan's time).
    return tuple((name, ZoneInfo(name)) for name in _zone_names())


def birthday_dates(start: datetime, now: datetime, hour: int) -> dict[date, set[str]]:
    """Local dates whose ``hour`` o'clock falls in (start, now], with the zones it does in.

    Zones on the same UTC offsets at both ends of a short window behave alike, so
    each offset pair is worked out once instead of once for each of ~600 zones.
    """
    groups = {}
    for name, tz in _zones():
        groups.setdefault((tz.utcoffset(start), tz.utcoffset(now)), []).append(name)
    short = now - start <= timedelta(days=7)
    found = {}
    for (offset_start, offset_now), names in groups.items():
        if short and offset_start == offset_now:
            for day in _local_dates_at(start, now, hour, dt_timezone(offset_start)):
                found.setdefault(day, set()).update(names)
            continue
        for name in names:
            for day in _local_dates_at(start, now, hour, ZoneInfo(name)):
                found.setdefault(day, set()).add(name)
    return found


def _local_dates_at(start, now, hour, tz):
    day, last = start.astimezone(tz).date(), now.astimezone(tz).date()
    while day <= last:
        if start < datetime.combine(day, time(hour), tzinfo=tz) <= now:
            yield day
        day += timedelta(days=1)


def _is_leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def find_birthdays(rules, start, now) -> list[Occurrence]:
    """At ``BIRTHDAY_LOCAL_HOUR`` on the birthday in the client's own zone."""
    earliest = min(_rule_start(rule, start) for rule in rules)
    dates = birthday_dates(earliest, now, settings.BIRTHDAY_LOCAL_HOUR)
    if not dates:
        return []
    month_days = set()
    for day in dates:
        month_days.add((day.month, day.day))
        if (day.month, day.day) == (2, 28) and not _is_leap(day.year):
            month_days.add((2, 29))
    q = Q()
    for month, day in sorted(month_days):
        q |= Q(birth_date__month=month, birth_date__day=day)
    rows = Client.objects.filter(q).order_by().values_list("pk", "birth_date", "timezone", "trainer_id")
    found = []
    for pk, birth_date, tz_name, trainer_id in rows:
        zone = tz_name or settings.STUDIO_TIME_ZONE
        for day, zones in dates.items():
            if zone not in zones or engine.celebrated_on(birth_date, day.year) != day:
                continue
            moment = datetime.combine(day, time(settings.BIRTHDAY_LOCAL_HOUR), tzinfo=ZoneInfo(zone))
            for rule in rules:
                if _rule_start(rule, start) < moment and rule.trainer_id in (None, trainer_id):
                    found.append(
                        Occurrence(
                            rule=rule,
                            key=engine.birthday_key(pk, day.year),
                            client_id=pk,
                            birthday=day,
                            due_at=moment,
                            trainer_id=trainer_id,
                        )
                    )
    return found


def package_ends(valid_until: date) -> datetime:
    """A package can be used to the end of its last day, studio time.

    In UTC: offsets are real hours, and aware arithmetic in a zone is wall-clock
    arithmetic (a week before a midnight after a clock change would be an hour off).
    """
    return studio_midnight(valid_until + timedelta(days=1)).astimezone(UTC)


def find_packages_expiring(rules, start, now) -> list[Occurrence]:
    """``offset_hours`` before the end of a package's last day, while it has credits left."""
    dates = _days_falling_due(rules, start, now, package_ends)
    if not dates:
        return []
    rows = (
        packages_with_credits(ClientPackage.objects.filter(valid_until__in=dates))
        .filter(credits_left__gt=0)
        .order_by()
        .values_list("pk", "client_id", "valid_until", "created_at", "client__trainer_id")
    )
    found = []
    for pk, client_id, valid_until, created_at, trainer_id in rows:
        for rule in rules:
            remind_at = package_ends(valid_until) - timedelta(hours=rule.offset_hours)
            if (
                _rule_start(rule, start) < remind_at <= now
                and created_at <= remind_at
                and rule.trainer_id in (None, trainer_id)
            ):
                found.append(
                    Occurrence(
                        rule=rule,
                        key=engine.package_expiring_key(pk, valid_until),
                        client_id=client_id,
                        package_id=pk,
                        expect_due=valid_until,
                        due_at=remind_at,
                        trainer_id=trainer_id,
                    )
                )
    return found


FINDERS = {
    TriggerEvent.SESSION_SCHEDULED: find_session_reminders,
    TriggerEvent.PAYMENT_DUE: find_payment_due_reminders,
    TriggerEvent.PAYMENT_OVERDUE: find_overdue_notices,
    TriggerEvent.BIRTHDAY: find_birthdays,
    TriggerEvent.PACKAGE_EXPIRING: find_packages_expiring,
}


def scan(*, now: datetime | None = None, dry_run: bool = False) -> ScanResult:
    """Fire every time-based rule that fell due in (last scan, now]."""
    now = now or timezone.now()
    rules = list(AutomationRule.objects.filter(is_active=True, trigger_event__in=TIME_EVENTS).order_by("pk"))
    result = ScanResult(now=now, window_start=window_start(now), dry_run=dry_run, rules=rules)
    result.turned_overdue = turn_overdue(now=now, dry_run=dry_run)
    for event, finder in FINDERS.items():
        event_rules = [rule for rule in rules if rule.trigger_event == event]
        if not event_rules:
            continue
        try:
            occurrences = finder(event_rules, result.window_start, now)
            result.fired.merge(engine.fire_occurrences(occurrences, now=now, dry_run=dry_run))
        except Exception as exc:  # one broken event type must not stop the others; reported as an error
            logger.exception("automation scan: %s failed", event)
            result.errors.append(f"{event}: {type(exc).__name__}: {exc}")
    if not dry_run and result.ok and now <= timezone.now():
        # After a failure the next scan covers this window again (the log makes that safe),
        # so whatever the failure held up still goes once it is fixed.
        # A scan "in the future" (``run_triggers --now`` ahead of the clock) is not
        # recorded: the state never moves back, so real scans would find it ahead of
        # them and fall back to the short first look-back, losing their catch-up.
        # A --now in the past is recorded as usual (it never moves the state back).
        _advance(now)
    return result
