"""Delivery throughput of the outbox, on PostgreSQL.

    DATABASE_URL=postgres://... python -m bench messaging [--count 10000] [--naive-count N]
        [--scaling-count 10000] [--scaling-workers 1,2,4] [--brokers orm,redis] [--scaling-only]

Three ways to deliver the same queued email messages through a fake provider
(Django's locmem email backend: the whole send path runs, nothing leaves the box):

* worker — the real thing: ``qcluster`` subprocess, one task per worker draining
  batches with ``deliver_due`` (claim with SKIP LOCKED, send, mark).
* naive  — the peer we compare against: one django-q2 task per message through the
  same ``qcluster``; each task claims and delivers its one message.
* floor  — the same claim-and-mark done inline in this process, no queue at all.

Scaling: the worker run again with 1, 2 and 4 worker processes, on the ORM broker
and on Redis (``BENCH_REDIS_URL``, default ``redis://127.0.0.1:6379/12``, on a queue
of its own), sending SMS through the log backend: each provider call is a line in
the cluster's log, so duplicates (and anything lost) are counted, not assumed.

Messages are created up front with a far-future ``next_attempt_at`` so nothing
(not even the periodic schedule) touches them before the clock starts; the
naive peer's tasks are enqueued in one transaction before its clock starts, so
its enqueueing cost is not counted against it.
"""

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.db import connection, transaction
from django.utils import timezone

ROOT = Path(__file__).resolve().parent.parent
LOCMEM = "django.core.mail.backends.locmem.EmailBackend"
BENCH_TRAINER = "bench-messaging"


# --- Task functions the qcluster imports -----------------------------------------------


def ping():
    return "pong"


def naive_deliver_one(message_id):
    """The naive peer: claim one message by id and deliver it."""
    from messaging.delivery import deliver_claimed
    from messaging.models import Message

    now = timezone.now()
    if Message.objects.filter(pk=message_id, status=Message.Status.QUEUED).update(
        status=Message.Status.SENDING, claimed_at=now
    ):
        deliver_claimed([Message.objects.select_related("client").get(pk=message_id)])


# --- Helpers -------------------------------------------------------------------------------


def _database_url():
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        raise SystemExit("bench messaging needs PostgreSQL: set DATABASE_URL=postgres://...")
    return url


def _cleanup():
    from django_q.models import OrmQ, Task

    from clients.models import Client
    from messaging.models import Message

    Message.objects.filter(client__trainer__username=BENCH_TRAINER).delete()
    Client.objects.filter(trainer__username=BENCH_TRAINER).delete()
    Task.objects.filter(func__startswith="bench.messaging.").delete()
    OrmQ.objects.all().delete()


def _seed(count: int, clients: int = 200):
    from django.contrib.auth import get_user_model

    from clients.models import Client
    from messaging.models import Message

    trainer, _ = get_user_model().objects.get_or_create(username=BENCH_TRAINER, defaults={"is_staff": True})
    people = Client.objects.bulk_create(
        [
            Client(trainer=trainer, first_name="Bench", last_name=str(i), email=f"bench{i}@example.com")
            for i in range(clients)
        ]
    )
    later = timezone.now() + timedelta(days=365)
    rows = [
        Message(
            client=people[i % clients],
            channel="email",
            subject=f"Reminder {i}",
            body="Your session is tomorrow at 09:00. Reply to this email if you need to move it.",
            to_address=people[i % clients].email,
            next_attempt_at=later,
        )
        for i in range(count)
    ]
    created = Message.objects.bulk_create(rows, batch_size=2000)
    return [m.pk for m in created]


def _remaining(ids):
    from messaging.models import Message

    return Message.objects.filter(pk__in=ids, status__in=["queued", "sending"]).count()


def _wait_until_done(ids, timeout):
    from messaging.models import Message

    deadline = time.monotonic() + timeout
    lo, hi = min(ids), max(ids)
    pending = Message.objects.filter(pk__gte=lo, pk__lte=hi, status__in=["queued", "sending"])
    while pending.exists():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out with {pending.count()} messages undelivered")
        time.sleep(0.05)
    return time.perf_counter()


class Cluster:
    def __init__(self, workers: int, *, log_path=None, **env):
        env = {
            **os.environ,
            "DATABASE_URL": _database_url(),
            "EMAIL_BACKEND": LOCMEM,
            "Q_BROKER": "orm",
            "Q_WORKERS": str(workers),
            "Q_SYNC": "false",
            "LOG_LEVEL": "WARNING",
            **env,
        }
        log = open(log_path, "wb") if log_path else subprocess.DEVNULL  # noqa: SIM115
        self.process = subprocess.Popen(
            [sys.executable, "manage.py", "qcluster"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        if log_path:
            log.close()

    def wait_ready(self):
        from django_q.tasks import async_task, result

        if result(async_task("bench.messaging.ping"), wait=30_000) != "pong":
            self.stop()
            raise SystemExit("qcluster did not start")

    def stop(self):
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


def _release(ids):
    from messaging.models import Message

    Message.objects.filter(pk__in=ids).update(next_attempt_at=timezone.now())


# --- The three runs --------------------------------------------------------------------------


def run_worker(count, workers):
    from django_q.tasks import async_task

    from messaging.services import DELIVER_TASK

    ids = _seed(count)
    cluster = Cluster(workers)
    try:
        cluster.wait_ready()
        start = time.perf_counter()
        _release(ids)
        for _ in range(workers):
            async_task(DELIVER_TASK)
        end = _wait_until_done(ids, timeout=600)
    finally:
        cluster.stop()
    return count / (end - start), end - start


def run_naive(count, workers):
    from django_q.tasks import async_task

    ids = _seed(count)
    cluster = Cluster(workers)
    try:
        cluster.wait_ready()
        with transaction.atomic():
            for pk in ids:
                async_task("bench.messaging.naive_deliver_one", pk)
        start = time.perf_counter()
        end = _wait_until_done(ids, timeout=1800)
    finally:
        cluster.stop()
    return count / (end - start), end - start


def run_floor(count):
    from messaging.delivery import deliver_due

    ids = _seed(count)
    settings.EMAIL_BACKEND = LOCMEM
    start = time.perf_counter()
    _release(ids)
    while deliver_due(limit=settings.MESSAGING_BATCH_SIZE):
        pass
    end = time.perf_counter()
    assert _remaining(ids) == 0
    return count / (end - start), end - start


# --- Scaling: 1, 2, 4 workers, ORM broker and Redis ----------------------------------------

SMS_LOG_LINE = "SMS (log backend)"
MARK = re.compile(r"\[m(\d+)\]")


def _seed_sms(count: int, clients: int = 200) -> list[int]:
    from django.contrib.auth import get_user_model

    from clients.models import Client
    from messaging.models import Message

    trainer, _ = get_user_model().objects.get_or_create(username=BENCH_TRAINER, defaults={"is_staff": True})
    people = Client.objects.bulk_create(
        [
            Client(trainer=trainer, first_name="Bench", last_name=str(i), phone=f"+4477001{i:05d}")
            for i in range(clients)
        ]
    )
    later = timezone.now() + timedelta(days=365)
    rows = [
        Message(
            client=people[i % clients],
            channel="sms",
            body=f"[m{i}] Your session is tomorrow at 09:00. Reply if you need to move it.",
            to_address=people[i % clients].phone,
            next_attempt_at=later,
        )
        for i in range(count)
    ]
    return [m.pk for m in Message.objects.bulk_create(rows, batch_size=2000)]


@contextmanager
def _broker(name: str):
    """This process's django-q2 on ``name`` (``orm`` or ``redis``); yields the cluster's env."""
    from django_q.conf import Conf

    if name == "orm":
        yield {"Q_BROKER": "orm"}
        return
    import redis

    url = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/12")
    queue = f"fitcrm-bench-{uuid.uuid4().hex[:8]}"
    redis.from_url(url).ping()
    saved = {key: getattr(Conf, key) for key in ("REDIS", "ORM", "PREFIX", "CLUSTER_NAME")}
    Conf.REDIS, Conf.ORM, Conf.PREFIX, Conf.CLUSTER_NAME = url, None, queue, queue
    try:
        yield {"Q_BROKER": url, "Q_NAME": queue}
    finally:
        for key, value in saved.items():
            setattr(Conf, key, value)
        conn = redis.from_url(url)
        keys = list(conn.scan_iter(f"django_q:{queue}:*"))
        if keys:
            conn.delete(*keys)


def _wait_running(log_path: Path, process, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if log_path.exists() and re.search(r"Q Cluster .* running", log_path.read_text(errors="replace")):
            return
        if process.poll() is not None:
            raise SystemExit(f"qcluster exited:\n{log_path.read_text(errors='replace')[-2000:]}")
        time.sleep(0.1)
    raise SystemExit("qcluster did not start")


def run_scaling(count, workers, broker) -> dict:
    from messaging.services import kick_delivery

    ids = _seed_sms(count)
    with tempfile.TemporaryDirectory() as tmp, _broker(broker) as env:
        log_path = Path(tmp) / "cluster.log"
        cluster = Cluster(
            workers,
            log_path=log_path,
            LOG_LEVEL="INFO",
            TWILIO_ACCOUNT_SID="",
            QUIET_HOURS_START="0",
            QUIET_HOURS_END="0",
            **env,
        )
        try:
            _wait_running(log_path, cluster.process)
            start = time.perf_counter()
            _release(ids)
            for _ in range(workers):
                kick_delivery()  # one draining task per worker process
            end = _wait_until_done(ids, timeout=600)
        finally:
            cluster.stop()
        calls = Counter(
            int(found.group(1))
            for line in log_path.read_text(errors="replace").splitlines()
            if SMS_LOG_LINE in line and (found := MARK.search(line))
        )
    return {
        "broker": broker,
        "workers": workers,
        "messages": count,
        "seconds": round(end - start, 2),
        "msgs_per_s": round(count / (end - start), 1),
        "provider_calls": sum(calls.values()),
        "duplicates": sum(n - 1 for n in calls.values() if n > 1),
        "never_sent": count - len(calls),
    }


def run(args) -> dict:
    parser = argparse.ArgumentParser(prog="bench messaging")
    parser.add_argument("--count", type=int, default=10_000, help="messages for the worker and the floor")
    parser.add_argument(
        "--naive-count",
        type=int,
        default=2_000,
        help="messages for the naive peer (~20/s: 10,000 take 8 min)",
    )
    parser.add_argument("--workers", type=int, default=int(os.environ.get("Q_WORKERS", 2)))
    parser.add_argument("--scaling-count", type=int, default=10_000, help="messages per scaling run")
    parser.add_argument("--scaling-workers", default="1,2,4", help="worker processes per scaling run")
    parser.add_argument("--brokers", default="orm,redis", help="brokers for the scaling runs")
    parser.add_argument("--scaling-only", action="store_true", help="skip the worker/floor/naive runs")
    opts = parser.parse_args(args)
    _database_url()
    assert connection.vendor == "postgresql"
    call_command("migrate", verbosity=0)

    scaling = []
    try:
        for broker in opts.brokers.split(","):
            for workers in [int(n) for n in opts.scaling_workers.split(",")]:
                _cleanup()
                scaling.append(run_scaling(opts.scaling_count, workers, broker))
                print(json.dumps(scaling[-1]), flush=True)
    finally:
        _cleanup()
    for row in scaling:
        first = next(r for r in scaling if r["broker"] == row["broker"])
        row["scaling_ratio"] = round(row["msgs_per_s"] / first["msgs_per_s"], 2)
    scaling_result = {
        "scaling": scaling,
        "cpu_cores": os.cpu_count(),
        "provider": "SMS log backend (full send path, one log line per provider call)",
        "targets": {"duplicates": 0, "never_sent": 0},
    }
    if opts.scaling_only:
        return scaling_result

    results = {}
    try:
        _cleanup()
        worker_rate, worker_s = run_worker(opts.count, opts.workers)
        _cleanup()
        floor_rate, floor_s = run_floor(opts.count)
        _cleanup()
        naive_rate, naive_s = run_naive(opts.naive_count, opts.workers)
    finally:
        _cleanup()
    results = {
        "database": "postgresql",
        "workers": opts.workers,
        "batch_size": settings.MESSAGING_BATCH_SIZE,
        "provider": "locmem email (full send path, no network)",
        "worker": {
            "messages": opts.count,
            "seconds": round(worker_s, 2),
            "msgs_per_s": round(worker_rate, 1),
        },
        "floor": {"messages": opts.count, "seconds": round(floor_s, 2), "msgs_per_s": round(floor_rate, 1)},
        "naive": {
            "messages": opts.naive_count,
            "seconds": round(naive_s, 2),
            "msgs_per_s": round(naive_rate, 1),
        },
        "worker_vs_naive": round(worker_rate / naive_rate, 1),
        "worker_vs_floor": round(worker_rate / floor_rate, 2),
        "targets": {"worker_vs_naive": ">= 25", "worker_vs_floor": ">= 0.5"},
    }
    return results | scaling_result
