"""Real ``qcluster`` processes for the integration tests: start them, stop them, kill -9 them,
and count what their providers were asked to send.

A cluster is a ``manage.py qcluster`` subprocess on the test database (so PostgreSQL:
SQLite's test database lives in memory). SMS goes to the log backend, the real
channel without Twilio: each provider call is one line in the cluster's log file,
so counting lines counts sends, whatever the engine did in between.
"""

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

ROOT = Path(settings.BASE_DIR)
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/11")
SMS_LOG_LINE = "SMS (log backend)"
MARK = re.compile(r"\[m(\d+)\]")


def subprocess_database_url() -> str:
    db = connection.settings_dict
    if connection.vendor == "postgresql":
        return f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    name = str(db["NAME"])
    if connection.vendor == "sqlite" and "memory" not in name and name != "":
        return f"sqlite:///{name}"
    pytest.skip(
        "the test database lives in memory; run with DATABASE_URL=postgres://... to start a real worker"
    )


def marked(n: int) -> str:
    """A body whose provider call can be told apart in the log: ``[m42]``."""
    return f"[m{n}] See you tomorrow at 09:00"


def redis_queue(monkeypatch) -> dict:
    """Point this process's django-q2 at Redis, on a queue of its own; return the
    environment that puts a cluster on the same queue.

    The queue name is new for every test, so test runs sharing the machine's Redis
    (other checkouts, parallel CI jobs) never take each other's tasks.
    """
    import redis
    from django_q.conf import Conf

    try:
        redis.from_url(REDIS_URL).ping()
    except redis.RedisError as exc:
        pytest.skip(f"needs Redis at {REDIS_URL} (set TEST_REDIS_URL): {exc}")
    name = f"fitcrm-test-{uuid.uuid4().hex[:12]}"
    monkeypatch.setattr(Conf, "REDIS", REDIS_URL)
    monkeypatch.setattr(Conf, "ORM", None)
    monkeypatch.setattr(Conf, "PREFIX", name)
    monkeypatch.setattr(Conf, "CLUSTER_NAME", name)
    monkeypatch.setattr(Conf, "Q_STAT", f"django_q:{name}:cluster")
    return {"Q_BROKER": REDIS_URL, "Q_NAME": name}


def forget_redis_queue(env: dict):
    import redis

    conn = redis.from_url(REDIS_URL)
    keys = list(conn.scan_iter(f"django_q:{env['Q_NAME']}:*"))
    if keys:
        conn.delete(*keys)


class QCluster:
    """One ``qcluster`` ("a host"), its output in ``log_path``."""

    def __init__(self, name: str, log_path: Path, **env):
        self.name = name
        self.log_path = log_path
        self.env = {
            **os.environ,
            # pytest-django switched this process to the test database; the cluster must use it too.
            "DATABASE_URL": subprocess_database_url(),
            "Q_BROKER": "orm",
            "Q_WORKERS": "2",
            "Q_SYNC": "false",
            "TWILIO_ACCOUNT_SID": "",  # SMS goes to the log backend
            "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
            "QUIET_HOURS_START": "0",
            "QUIET_HOURS_END": "0",
            "LOG_LEVEL": "INFO",
            "PYTHONUNBUFFERED": "1",
            **{key: str(value) for key, value in env.items()},
        }
        self.process = None

    def start(self) -> "QCluster":
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "manage.py", "qcluster"],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def wait_running(self, timeout: float = 60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if re.search(r"Q Cluster .* running", self.log()):
                return
            if self.process.poll() is not None:
                raise AssertionError(f"{self.name} exited:\n{self.log()[-3000:]}")
            time.sleep(0.1)
        raise AssertionError(f"{self.name} did not start within {timeout} s:\n{self.log()[-3000:]}")

    def sms_count(self) -> int:
        """Provider calls so far (cheap enough to poll)."""
        return self.log().count(SMS_LOG_LINE)

    def sms_sent(self) -> Counter:
        """Provider calls per marked message: ``{42: 1, ...}``."""
        calls = Counter()
        for line in self.log().splitlines():
            if SMS_LOG_LINE in line and (found := MARK.search(line)):
                calls[int(found.group(1))] += 1
        return calls

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self):
        """kill -9 the whole cluster: guard, pusher, monitor and every worker, mid-whatever."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def stop(self):
        if not self.alive():
            return
        # The cluster's main process stops its workers itself (signalling them too
        # makes the stop hang); the logs are read already, so waiting long is pointless.
        self.process.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=5)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()


def wait_until(condition, *, timeout: float, every: float = 0.1, clusters=()):
    """Poll ``condition`` until true; fail with the clusters' logs when a cluster dies or time runs out."""
    deadline = time.monotonic() + timeout
    while not condition():
        for cluster in clusters:
            if not cluster.alive():
                raise AssertionError(f"{cluster.name} exited:\n{cluster.log()[-3000:]}")
        if time.monotonic() > deadline:
            logs = "\n".join(f"--- {c.name}\n{c.log()[-2000:]}" for c in clusters)
            raise AssertionError(f"not done within {timeout} s\n{logs}")
        time.sleep(every)
