"""Pruning the automation log without ever sending anything twice.

An ``AutomationLog`` row is the once-only guard: the unique (rule, occurrence_key)
insert is what stops a second scan, worker or cron run from firing the same
occurrence. Deleting the row of an occurrence that could still be found again would
let it fire again, so only *spent* occurrences go — those that neither an event nor
the scan can ever produce again — and only once the row is older than the cutoff:

- ``session:N:created``, ``payment:N:created``: a row is created once (ids are never
  reused);
- ``session:N:cancelled``: cancelled is a final status, a session is cancelled once;
- ``payment:N:overdue+Hh``: a payment turns overdue once (overdue never goes back to
  pending) and ``overdue_at`` is set then, so each step falls at one fixed moment; the
  row was written at that moment, before the cutoff, long outside the scan's catch-up;
- ``session:N:start=T``, ``payment:N:due=D``: reminders go before T / D only, and the
  scan never looks back further than ``AUTOMATION_MAX_CATCHUP_HOURS``: spent once T / D
  is before the cutoff too (a reminder may be written up to a year ahead);
- ``birthday:client:N:Y``: spent once year Y is before the cutoff's year.

Any other key (a kind added later) is kept until this module learns about it.

The one way back into pruned history is an operator replaying an old window with
``run_triggers --now``: the cutoff is recorded (``ScanState`` "history-pruned-before")
and the command refuses a ``--now`` that could reach behind it.
"""

import re
from datetime import date, datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from automation.models import AutomationLog, ScanState
from messaging.retention import prune_messages, retention_cutoff

BATCH_SIZE = 2000
PRUNED_STATE = "history-pruned-before"

_ONCE = re.compile(r"(session:\d+:(created|cancelled))|(payment:\d+:(created|overdue\+\d+h))")
_SESSION_START = re.compile(r"session:\d+:start=(?P<at>\S+)")
_PAYMENT_DUE = re.compile(r"payment:\d+:due=(?P<day>\d{4}-\d{2}-\d{2})")
_BIRTHDAY = re.compile(r"birthday:client:\d+:(?P<year>\d{4})")


def is_spent(key: str, cutoff: datetime) -> bool:
    """True when no event or scan can produce this occurrence again (see the module doc)."""
    if _ONCE.fullmatch(key):
        return True
    if match := _SESSION_START.fullmatch(key):
        try:
            return datetime.fromisoformat(match["at"]) < cutoff
        except ValueError:
            return False
    if match := _PAYMENT_DUE.fullmatch(key):
        try:
            # A day's margin: the due moment is a local hour on that day.
            return date.fromisoformat(match["day"]) < (cutoff - timedelta(days=1)).date()
        except ValueError:
            return False
    if match := _BIRTHDAY.fullmatch(key):
        return int(match["year"]) < cutoff.year
    return False


def check_cutoff(cutoff: datetime, now: datetime) -> None:
    # The scan re-examines up to AUTOMATION_MAX_CATCHUP_HOURS back; a guard row inside
    # that window must stay, whatever the retention says.
    if now - cutoff <= timedelta(hours=settings.AUTOMATION_MAX_CATCHUP_HOURS + 24):
        raise ValueError("The retention must reach further back than the scan's catch-up window.")


def pruned_before() -> datetime | None:
    """The latest cutoff a real pruning run used: history before it may be gone."""
    return ScanState.objects.filter(name=PRUNED_STATE).values_list("scanned_until", flat=True).first()


def _record_cutoff(cutoff: datetime) -> None:
    # Recorded before anything is deleted, and only ever moved forward.
    if not ScanState.objects.filter(name=PRUNED_STATE, scanned_until__lt=cutoff).update(scanned_until=cutoff):
        ScanState.objects.get_or_create(name=PRUNED_STATE, defaults={"scanned_until": cutoff})


def prune_logs(
    *, cutoff: datetime, now: datetime, dry_run: bool = False, batch_size: int = BATCH_SIZE
) -> int:
    """Delete spent log rows created before ``cutoff``; returns how many went (or would)."""
    check_cutoff(cutoff, now)
    if not dry_run:
        _record_cutoff(cutoff)
    deleted, last_pk = 0, 0
    while True:
        rows = list(
            AutomationLog.objects.filter(created_at__lt=cutoff, pk__gt=last_pk)
            .order_by("pk")
            .values_list("pk", "occurrence_key")[:batch_size]
        )
        if not rows:
            return deleted
        last_pk = rows[-1][0]
        spent = [pk for pk, key in rows if is_spent(key, cutoff)]
        if spent and not dry_run:
            with transaction.atomic():
                AutomationLog.objects.filter(pk__in=spent).delete()
        deleted += len(spent)


def prune_history(*, days: int | None = None, now: datetime | None = None, dry_run: bool = False) -> dict:
    """The daily housekeeping: spent automation logs, then finished messages and their events.

    ``days`` defaults to ``MESSAGING_RETENTION_DAYS``; 0 there keeps everything. Logs go
    first, so deleting their messages does not first update rows about to be deleted.
    """
    days = settings.MESSAGING_RETENTION_DAYS if days is None else days
    if days == 0:
        return {"automation_logs": 0, "messages": 0, "message_events": 0, "cutoff": None}
    now = now or timezone.now()
    cutoff = retention_cutoff(days=days, now=now)
    logs = prune_logs(cutoff=cutoff, now=now, dry_run=dry_run)
    return {"automation_logs": logs, **prune_messages(cutoff=cutoff, dry_run=dry_run), "cutoff": cutoff}
