"""What the time-based rules are about to send: the scan's own code, run ahead in dry run.

``upcoming(now=..., hours=24)`` asks every finder of ``automation.scan`` for what
falls due between where the next scan starts (``scan.window_start``) and ``now +
hours``, then the engine judges each occurrence exactly as ``_fire_batch`` will at
its due moment (``engine.preview_occurrences``): already fired or skipped, session
cancelled or moved, consent withdrawn. Nothing here decides anything the scan does
not, so the forecast cannot drift from what is sent.

Not listed: overdue notices for payments that turn overdue during the period (the
scan that turns them decides when they go), and event-driven messages (a booking's
confirmation), which have no time to forecast.
"""

from datetime import datetime, timedelta

from django.db.models import Subquery

from automation import engine, scan
from automation.engine import Preview
from automation.models import AutomationLog, AutomationRule, TriggerEvent


def upcoming(*, now: datetime, hours: int = 24, trainer_id: int | None = None) -> list[Preview]:
    """The messages the scans of the next ``hours`` will create, soonest first.

    ``trainer_id``: only that trainer's clients (a trainer's own book).
    """
    rules = list(
        AutomationRule.objects.filter(is_active=True, trigger_event__in=scan.TIME_EVENTS)
        # Where the next scan will start, read with the rules (one query fewer for the page).
        .annotate(scanned_until=Subquery(scan.scanned_until()[:1]))
        .order_by("pk")
    )
    if not rules:
        return []
    start, until = scan.window_start_after(rules[0].scanned_until, now), now + timedelta(hours=hours)
    occurrences = []
    for event, finder in scan.FINDERS.items():
        event_rules = [rule for rule in rules if rule.trigger_event == event]
        if not event_rules:
            continue
        if event == TriggerEvent.SESSION_SCHEDULED:
            occurrences += finder(event_rules, start, until, forecast=True)
        else:
            occurrences += finder(event_rules, start, until)
    if trainer_id is not None:
        # Narrowed before the engine loads anything: a trainer's page pays for her book only.
        occurrences = [o for o in occurrences if o.trainer_id == trainer_id]
    previews = [
        p
        for p in engine.preview_occurrences(occurrences, now=now)
        # The engine re-reads the client: one moved to another trainer a moment ago is not hers.
        if p.reason is None and (trainer_id is None or p.client.trainer_id == trainer_id)
    ]
    previews.sort(key=lambda p: (p.occurrence.due_at, p.occurrence.rule.pk, p.occurrence.key))
    return previews


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
