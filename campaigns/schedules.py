"""The django-q2 schedule that sends scheduled campaigns when they are due.

Created (or corrected) by name after every ``migrate``, so running it twice never
makes a second schedule.
"""

SCHEDULE_NAME = "campaigns: send due campaigns"
SCHEDULE_FUNC = "campaigns.tasks.send_due_campaigns"


def ensure_schedule(sender=None, **kwargs):
    from django_q.models import Schedule

    Schedule.objects.update_or_create(
        name=SCHEDULE_NAME,
        defaults={
            "func": SCHEDULE_FUNC,
            "schedule_type": Schedule.MINUTES,
            "minutes": 1,
            "repeats": -1,
        },
    )
