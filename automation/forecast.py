"""What the time-based rules are about to send: the scan's own code, run ahead in dry run.

``upcoming(now=..., hours=24)`` asks every finder of ``automation.scan`` for what
falls due between where the next scan starts (``scan.window_start``) and ``now +
hours``, then the engine judges each occurrence exactly as ``_fire_batch`` will at
its due moment (``engine.preview_occurrences``): already fired or skipped, session
cancelled or moved, consent withdrawn. Nothing here decides anything the scan does
not, so the forecast cannot drift from what is sent.

``rule_forecast(rule, now=...)`` is the same run for one rule (a draft, or a rule's
unsaved changes) over the next 7 days: what a rule's page shows before *Activate*.

Not listed: overdue notices for payments that turn overdue during the period (the
scan that turns them decides when they go), and event-driven messages (a booking's
confirmation), which have no time to forecast.
"""

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db.models import Subquery

from automation import engine, scan
from automation.engine import Occurrence, Preview
from automation.models import AutomationLog, AutomationRule, TriggerEvent
from clients.models import Channel


def occurrences(
    *, now: datetime, hours: int = 24, trainer_id: int | None = None, rules: list | None = None
) -> list[Occurrence]:
    """What the scans of the next ``hours`` will find due, soonest first (not judged yet).

    ``trainer_id``: only that trainer's clients (a trainer's own book).
    ``rules``: these rules (a draft, or a rule's unsaved changes) as if they were active;
    by default every active rule.
    """
    if rules is None:
        rules = list(
            AutomationRule.objects.filter(is_active=True, trigger_event__in=scan.TIME_EVENTS)
            # Where the next scan will start, read with the rules (one query fewer for the page).
            .annotate(scanned_until=Subquery(scan.scanned_until()[:1]))
            .order_by("pk")
        )
        if not rules:
            return []
        last = rules[0].scanned_until
    else:
        rules = [rule for rule in rules if rule.trigger_event in scan.TIME_EVENTS]
        if not rules:
            return []
        last = scan.scanned_until().first()
    start, until = scan.window_start_after(last, now), now + timedelta(hours=hours)
    found = []
    for event, finder in scan.FINDERS.items():
        event_rules = [rule for rule in rules if rule.trigger_event == event]
        if not event_rules:
            continue
        if event == TriggerEvent.SESSION_SCHEDULED:
            found += finder(event_rules, start, until, forecast=True)
        else:
            found += finder(event_rules, start, until)
    if trainer_id is not None:
        # Narrowed before the engine loads anything: a trainer's page pays for her book only.
        found = [o for o in found if o.trainer_id == trainer_id]
    found.sort(key=lambda o: (o.due_at, o.rule.pk or 0, o.key))
    return found


@dataclass
class Upcoming:
    #: What will be sent, soonest first, as the engine judges it.
    previews: list[Preview]
    #: Occurrences due later in the period that were not judged (beyond ``limit``).
    later: int = 0


def upcoming(
    *, now: datetime, hours: int = 24, trainer_id: int | None = None, limit: int | None = None
) -> Upcoming:
    """The messages the scans of the next ``hours`` will create, soonest first.

    ``limit``: judge only the soonest ``limit`` occurrences (a page shows a few; a busy
    studio has thousands a day) and count the rest in ``later``.
    """
    found = occurrences(now=now, hours=hours, trainer_id=trainer_id)
    judged = found if limit is None else found[:limit]
    return Upcoming(
        previews=_sendable(judged, now=now, trainer_id=trainer_id), later=len(found) - len(judged)
    )


def find_upcoming(*, now: datetime, rule_id: int, key: str, trainer_id: int | None = None) -> Preview | None:
    """One occurrence of the next 24 hours that will be sent, or ``None``."""
    found = [o for o in occurrences(now=now, trainer_id=trainer_id) if o.rule.pk == rule_id and o.key == key]
    sendable = _sendable(found, now=now, trainer_id=trainer_id)
    return sendable[0] if sendable else None


def _sendable(found, *, now, trainer_id) -> list[Preview]:
    return [
        p
        for p in engine.preview_occurrences(found, now=now)
        # The engine re-reads the client: one moved to another trainer a moment ago is not hers.
        if p.reason is None and (trainer_id is None or p.client.trainer_id == trainer_id)
    ]


def skip_reason(user) -> str:
    return f"skipped by {user.get_username()}"


def occurrence_skip(*, preview: Preview, user) -> bool:
    """Record one coming occurrence as skipped by ``user``; the scan will then find it done.

    The log row takes the occurrence's (rule, occurrence_key), so the unique
    constraint stops every later scan, as for anything already sent. False when
    the occurrence has been fired (or skipped) in the meantime.
    """
    occ = preview.occurrence
    _, created = AutomationLog.objects.get_or_create(
        rule=occ.rule,
        occurrence_key=occ.key,
        defaults={
            "status": AutomationLog.Status.SKIPPED,
            "client": preview.client,
            "error": skip_reason(user),
        },
    )
    return created


# --- One rule's next days (a draft, or unsaved changes) ----------------------------------------

FORECAST_DAYS = 7
FORECAST_SHOWN = 20


@dataclass
class RuleForecast:
    days: int
    #: channel -> messages that would be sent
    by_channel: Counter = field(default_factory=Counter)
    #: reason -> occurrences that would be skipped
    skipped: Counter = field(default_factory=Counter)
    #: The first ``FORECAST_SHOWN``, soonest first: (preview, subject, body, error).
    messages: list = field(default_factory=list)
    #: The rule's event is not a time (a booking, a cancellation): nothing to forecast.
    event_driven: bool = False

    @property
    def total(self) -> int:
        return sum(self.by_channel.values())

    # Lists for templates (a Counter answers any lookup, ``.items`` included, with 0).
    @property
    def channel_counts(self) -> list[tuple[str, int]]:
        return [(Channel(c).label, n) for c, n in self.by_channel.most_common()]

    @property
    def skip_counts(self) -> list[tuple[str, int]]:
        return self.skipped.most_common()


def rule_forecast(
    rule: AutomationRule,
    *,
    now: datetime,
    days: int = FORECAST_DAYS,
    trainer_id: int | None = None,
    limit: int = FORECAST_SHOWN,
) -> RuleForecast:
    """What ``rule`` would send over the next ``days`` if it were active (saved or not).

    The scan's finders and the engine's re-check, as for the dashboard: only the rule
    itself is new. An unsaved rule counts as created now (a rule never fires for what
    fell due before it existed). ``trainer_id``: a trainer sees only her own clients.
    """
    result = RuleForecast(days=days, event_driven=rule.trigger_event not in scan.TIME_EVENTS)
    if rule.created_at is None:
        rule.created_at = now
    found = occurrences(now=now, hours=24 * days, trainer_id=trainer_id, rules=[rule])
    judged = engine.preview_occurrences(found, now=now)
    sendable = []
    for p in judged:
        if trainer_id is not None and p.client is not None and p.client.trainer_id != trainer_id:
            continue
        if p.reason:
            result.skipped[p.reason] += 1
        else:
            result.by_channel[rule.channel] += 1
            sendable.append(p)
    result.messages = engine.render_preview(sendable[:limit], now=now)
    return result
