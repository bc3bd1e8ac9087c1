"""The django-q2 schedule that runs the time-based scan, created idempotently by name."""

SCHEDULE_NAME = "automation: run triggers"
SCAN_TASK = "automation.tasks.run_scan"
EVERY_MINUTES = 5


def ensure_schedule(sender=None, using="default", **kwargs):
    """post_migrate: after ``migrate`` the schedule exists (staff may retune it in the admin)."""
    from django_q.models import Schedule

    Schedule.objects.using(using).get_or_create(
        name=SCHEDULE_NAME,
        defaults={
            "func": SCAN_TASK,
            "schedule_type": Schedule.MINUTES,
            "minutes": EVERY_MINUTES,
            "repeats": -1,
        },
    )
