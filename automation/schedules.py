"""The django-q2 schedule that runs the time-based scan (see ``common.schedules``)."""

from common.schedules import ensure_schedule as _ensure

SCHEDULE_NAME = "automation: run triggers"
SCAN_TASK = "automation.tasks.run_scan"
EVERY_MINUTES = 5


def ensure_schedule(sender=None, using="default", **kwargs):
    """post_migrate: after ``migrate`` the schedule exists (staff may retune it in the admin)."""
    _ensure(name=SCHEDULE_NAME, func=SCAN_TASK, minutes=EVERY_MINUTES, using=using)
