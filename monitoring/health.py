"""What ``GET /healthz/`` checks, and the figures it shows an operator.

Four checks, each answering ok or not with a one-line reason:

- ``database``: a ``SELECT 1`` answers;
- ``broker``: django-q2's broker answers (Redis ``PING``; the ORM broker is the database);
- ``worker``: a delivery worker checked in within ``HEALTH_WORKER_MAX_AGE_MINUTES``
  (``messaging.heartbeat``, written at the start of every delivery run, at least once a
  minute by the schedule while a worker is up);
- ``queue``: no message has been due for longer than ``HEALTH_QUEUE_MAX_AGE_MINUTES``.
  Marketing email waits behind ``MARKETING_EMAILS_PER_MINUTE`` by design (a 50,000-mail
  campaign takes over an hour at 600 a minute), so it is counted in the figures but does
  not fail the check; the worker check covers a dead worker either way.
"""

from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime, timedelta

import redis
from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.db.models import Count, Min, Q
from django.db.models.functions import Coalesce
from django.utils import timezone
from django_q.brokers import get_broker
from django_q.conf import Conf

from automation.models import AutomationLog, ScanState
from automation.scan import STATE_NAME as SCAN_STATE_NAME
from clients.models import Category, Channel
from messaging.heartbeat import last_heartbeat
from messaging.models import Message

#: Seconds a probe waits for Redis; an unreachable host must not hang the monitor.
BROKER_TIMEOUT_SECONDS = 3


@dataclass
class Check:
    name: str
    ok: bool
    detail: str = ""


def _due_messages(now: datetime):
    return Message.objects.filter(status=Message.Status.QUEUED, direction=Message.Direction.OUTBOUND).filter(
        Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)
    )


def _throttled():
    return Q(channel=Channel.EMAIL, category=Category.MARKETING)


def oldest_due_age(now: datetime) -> timedelta | None:
    """How long the longest-waiting due message (not throttled marketing email) has waited.

    It has been due since its retry/deferral time, or since it was queued.
    """
    since = (
        _due_messages(now)
        .exclude(_throttled())
        .aggregate(since=Min(Coalesce("next_attempt_at", "created_at")))["since"]
    )
    return None if since is None else max(now - since, timedelta(0))


def check_database() -> Check:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError as exc:
        return Check("database", False, f"{type(exc).__name__}: {exc}".strip()[:300])
    return Check("database", True)


def _broker():
    broker = get_broker()
    if isinstance(Conf.REDIS, str) and not Conf.ORM:
        # django-q2's own client waits for the system's connect timeout (minutes) on an
        # unreachable host; a probe answers in seconds. Same URL, same server.
        broker.connection = redis.Redis.from_url(
            Conf.REDIS, socket_connect_timeout=BROKER_TIMEOUT_SECONDS, socket_timeout=BROKER_TIMEOUT_SECONDS
        )
    return broker


def check_broker() -> tuple[Check, int | None]:
    """The check, and how many tasks wait on the broker (None when it did not answer)."""
    try:
        # Outside a transaction the ORM broker closes the request's connection first
        # (close_old_connections); inside one it keeps it, as common.queue.enqueue does.
        with transaction.atomic() if Conf.ORM else nullcontext():
            broker = _broker()
            broker.ping()
            waiting = broker.queue_size()
    except (redis.RedisError, DatabaseError, OSError) as exc:
        return Check("broker", False, f"{type(exc).__name__}: {exc}".strip()[:300]), None
    return Check("broker", True, broker.info()), waiting


def check_worker(now: datetime) -> tuple[Check, datetime | None]:
    limit = timedelta(minutes=settings.HEALTH_WORKER_MAX_AGE_MINUTES)
    beat = last_heartbeat()
    if beat is None:
        return Check("worker", False, "no delivery worker has ever checked in"), None
    age = now - beat.beat_at
    if age > limit:
        return (
            Check("worker", False, f"last check-in {_minutes(age)} ago (limit {_minutes(limit)})"),
            beat.beat_at,
        )
    return Check("worker", True, f"last check-in {_minutes(age)} ago by {beat.worker}"), beat.beat_at


def check_queue(now: datetime) -> tuple[Check, timedelta | None]:
    limit = timedelta(minutes=settings.HEALTH_QUEUE_MAX_AGE_MINUTES)
    age = oldest_due_age(now)
    if age is None:
        return Check("queue", True, "nothing due"), None
    if age > limit:
        return Check(
            "queue", False, f"a message has been due for {_minutes(age)} (limit {_minutes(limit)})"
        ), age
    return Check("queue", True, f"oldest due message waited {_minutes(age)}"), age


def _minutes(delta: timedelta) -> str:
    minutes = delta.total_seconds() / 60
    return f"{minutes:.0f} min" if minutes >= 1 else f"{delta.total_seconds():.0f} s"


@dataclass
class Report:
    checks: list[Check]
    figures: dict | None

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.checks)

    @property
    def failing(self) -> list[str]:
        return [check.name for check in self.checks if not check.ok]


def run_checks(*, now: datetime | None = None, with_figures: bool = False) -> Report:
    """Every check, in order; the database-backed ones only when the database answers."""
    now = now or timezone.now()
    database = check_database()
    broker, broker_waiting = check_broker()
    checks = [database, broker]
    figures = None
    if not database.ok:
        checks += [
            Check("worker", False, "database unavailable"),
            Check("queue", False, "database unavailable"),
        ]
        return Report(checks, figures)
    worker, beat_at = check_worker(now)
    queue, age = check_queue(now)
    checks += [worker, queue]
    if with_figures:
        figures = _figures(now, beat_at=beat_at, oldest_due=age, broker_waiting=broker_waiting)
    return Report(checks, figures)


def _figures(now, *, beat_at, oldest_due, broker_waiting) -> dict:
    hour_ago = now - timedelta(hours=1)
    queued = dict(
        Message.objects.filter(status=Message.Status.QUEUED, direction=Message.Direction.OUTBOUND)
        .values_list("channel")
        .annotate(n=Count("id"))
        .order_by()
    )
    return {
        "queued_by_channel": {channel: queued.get(channel, 0) for channel in Channel.values},
        "due_now": _due_messages(now).count(),
        "marketing_email_due": _due_messages(now).filter(_throttled()).count(),
        "oldest_due_seconds": None if oldest_due is None else round(oldest_due.total_seconds()),
        "last_worker_check_in": beat_at,
        "last_scan_until": ScanState.objects.filter(name=SCAN_STATE_NAME)
        .values_list("scanned_until", flat=True)
        .first(),
        "failed_last_hour": {
            "messages": Message.objects.filter(status=Message.Status.FAILED, failed_at__gte=hour_ago).count(),
            "automation": AutomationLog.objects.filter(
                status=AutomationLog.Status.FAILED, created_at__gte=hour_ago
            ).count(),
        },
        "broker_tasks_waiting": broker_waiting,
    }
