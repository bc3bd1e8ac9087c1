"""A real ``qcluster`` process (ORM broker) delivers what ``send_message`` queued."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from messaging.models import Message
from messaging.services import send_message
from tests.factories import ClientFactory, TrainerFactory

ROOT = Path(settings.BASE_DIR)


def subprocess_database_url():
    db = connection.settings_dict
    if connection.vendor == "postgresql":
        return f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    name = str(db["NAME"])
    if connection.vendor == "sqlite" and "memory" not in name and name != "":
        return f"sqlite:///{name}"
    pytest.skip(
        "the test database lives in memory; run with DATABASE_URL=postgres://... to start a real worker"
    )


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_a_real_qcluster_delivers_queued_messages():
    env = {
        **os.environ,
        # pytest-django switched this process to the test database; the worker must use it too.
        "DATABASE_URL": subprocess_database_url(),
        "Q_BROKER": "orm",
        "Q_WORKERS": "2",
        "Q_SYNC": "false",
        "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
        "TWILIO_ACCOUNT_SID": "",  # SMS goes to the log backend
        "QUIET_HOURS_START": "0",
        "QUIET_HOURS_END": "0",
        "LOG_LEVEL": "WARNING",
    }
    trainer = TrainerFactory()
    clients = [ClientFactory(trainer=trainer) for _ in range(5)]
    # Each send commits on its own, so each kicks the worker through the broker.
    messages = [
        send_message(client=c, channel=channel, subject="Hello", body="See you tomorrow")
        for c in clients
        for channel in ("email", "sms", "in_app")
    ]

    worker = subprocess.Popen(
        [sys.executable, "manage.py", "qcluster"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 30
        pending = Message.objects.filter(pk__in=[m.pk for m in messages]).exclude(
            status__in=[Message.Status.SENT, Message.Status.DELIVERED]
        )
        while pending.exists() and time.monotonic() < deadline and worker.poll() is None:
            time.sleep(0.25)
        assert worker.poll() is None, worker.stderr.read().decode()[-2000:]
        assert not pending.exists(), list(pending.values_list("channel", "status", "error"))
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        try:
            worker.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait()
        worker.stderr.close()

    by_status = dict.fromkeys(["email", "sms", "in_app"])
    for channel in by_status:
        by_status[channel] = set(Message.objects.filter(channel=channel).values_list("status", flat=True))
    assert by_status == {"email": {"sent"}, "sms": {"sent"}, "in_app": {"delivered"}}
