"""django-q2 schedules of automation: the time-based scan and the daily history pruning
(see ``common.schedules``)."""

from common.schedules import ensure_schedule as _ensure

SCHEDULE_NAME = "automation: run triggers"
SCAN_TASK = "automation.tasks.run_scan"
EVERY_MINUTES = 5

PRUNE_SCHEDULE_NAME = "housekeeping: prune history"
PRUNE_TASK = "automation.tasks.prune_history"


def ensure_schedule(sender=None, using="default", **kwargs):
    """post_migrate: after ``migrate`` the schedule exists (staff may retune it in the admin)."""
    _ensure(name=SCHEDULE_NAME, func=SCAN_TASK, minutes=EVERY_MINUTES, using=using)
    # Once a day; MESSAGING_RETENTION_DAYS=0 makes it a no-op.
    _ensure(name=PRUNE_SCHEDULE_NAME, func=PRUNE_TASK, minutes=24 * 60, using=using)
