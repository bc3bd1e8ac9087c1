"""Periodic messaging work: the delivery run (the safety net for a lost kick, retries and
deferrals) and the trainers' hourly digest of what their clients did."""

from common.schedules import ensure_schedule as _ensure

SCHEDULE_NAME = "messaging: deliver due messages"
SCHEDULE_FUNC = "messaging.tasks.deliver_pending"
DIGEST_SCHEDULE_NAME = "messaging: trainer digests"
DIGEST_SCHEDULE_FUNC = "messaging.tasks.send_trainer_digests"


def ensure_schedule(sender=None, using="default", **kwargs):
    _ensure(name=SCHEDULE_NAME, func=SCHEDULE_FUNC, minutes=1, using=using)
    _ensure(name=DIGEST_SCHEDULE_NAME, func=DIGEST_SCHEDULE_FUNC, minutes=60, using=using)
