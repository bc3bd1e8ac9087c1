"""django-q2 schedule of billing: packages whose last day has passed lose what was left
(see ``common.schedules``)."""

from common.schedules import ensure_schedule as _ensure

EXPIRE_SCHEDULE_NAME = "billing: expire packages"
EXPIRE_TASK = "billing.tasks.expire_packages"
EVERY_MINUTES = 60


def ensure_schedule(sender=None, using="default", **kwargs):
    """post_migrate: after ``migrate`` the schedule exists (staff may retune it in the admin)."""
    _ensure(name=EXPIRE_SCHEDULE_NAME, func=EXPIRE_TASK, minutes=EVERY_MINUTES, using=using)
