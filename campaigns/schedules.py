"""The django-q2 schedule that sends scheduled campaigns when they are due (see ``common.schedules``)."""

from common.schedules import ensure_schedule as _ensure

SCHEDULE_NAME = "campaigns: send due campaigns"
SCHEDULE_FUNC = "campaigns.tasks.send_due_campaigns"


def ensure_schedule(sender=None, using="default", **kwargs):
    _ensure(name=SCHEDULE_NAME, func=SCHEDULE_FUNC, minutes=1, using=using)
