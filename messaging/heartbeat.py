"""The delivery worker's check-in: proof that some worker is alive and taking work.

The health endpoint turns a missing or stale check-in into a 503, because the
failure users of reminder systems report most is reminders that silently stop.
"""

import os
import socket
from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from messaging.models import WorkerHeartbeat

DELIVERY = "delivery"


def record_heartbeat(name: str = DELIVERY, *, now: datetime | None = None) -> None:
    """One UPDATE per run; the row is created the first time."""
    now = now or timezone.now()
    worker = f"{socket.gethostname()}:{os.getpid()}"[:200]
    if WorkerHeartbeat.objects.filter(name=name).update(beat_at=now, worker=worker):
        return
    try:
        with transaction.atomic():
            WorkerHeartbeat.objects.create(name=name, beat_at=now, worker=worker)
    except IntegrityError:
        # Another worker created it a moment ago.
        WorkerHeartbeat.objects.filter(name=name).update(beat_at=now, worker=worker)


def last_heartbeat(name: str = DELIVERY) -> WorkerHeartbeat | None:
    return WorkerHeartbeat.objects.filter(name=name).first()
