"""The periodic delivery run: the safety net for a lost kick, retries and deferrals."""

from common.schedules import ensure_schedule as _ensure

SCHEDULE_NAME = "messaging: deliver due messages"
SCHEDULE_FUNC = "messaging.tasks.deliver_pending"


def ensure_schedule(sender=None, using="default", **kwargs):
    _ensure(name=SCHEDULE_NAME, func=SCHEDULE_FUNC, minutes=1, using=using)
