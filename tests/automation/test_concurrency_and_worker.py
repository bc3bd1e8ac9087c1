"""PostgreSQL: real processes racing for the same occurrences, and the real worker end to end."""

import os
import re
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from automation.models import AutomationLog, AutomationRule, ScanState, TriggerEvent
from automation.scan import STATE_NAME
from messaging.models import Message
from scheduling.models import Session
from tests.factories import ClientFactory, TrainerFactory
from tests.support.clock import utc
from tests.support.qcluster import subprocess_database_url

ROOT = Path(settings.BASE_DIR)
DUE = 1000


def subprocess_env():
    return {
        **os.environ,
        # pytest-django switched this process to the test database; the children must use it too.
        "DATABASE_URL": subprocess_database_url(),
        "Q_BROKER": "orm",
        "Q_SYNC": "false",
        "LOG_LEVEL": "WARNING",
        "TWILIO_ACCOUNT_SID": "",
        "QUIET_HOURS_START": "0",
        "QUIET_HOURS_END": "0",
    }


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_concurrent_run_triggers_over_1000_due_reminders_create_exactly_1000_messages():
    now = utc(2026, 12, 1, 9, 0)
    rule = AutomationRule.objects.create(
        name="24 h reminder",
        trigger_event=TriggerEvent.SESSION_SCHEDULED,
        channel="in_app",
        offset_hours=24,
        body_template="See you at {{ session_time }}",
    )
    AutomationRule.objects.filter(pk=rule.pk).update(created_at=now - timedelta(days=30))
    clients = [ClientFactory(trainer=TrainerFactory()) for _ in range(20)]
    Session.objects.bulk_create(
        Session(
            client=clients[i % 20],
            trainer=clients[i % 20].trainer,
            # Reminders due over the last ten minutes, a few per second.
            starts_at=now + timedelta(hours=24) - timedelta(seconds=i * 0.5),
            created_at=now - timedelta(days=7),
        )
        for i in range(DUE)
    )
    ScanState.objects.create(name=STATE_NAME, scanned_until=now - timedelta(minutes=10))

    command = [sys.executable, "manage.py", "run_triggers", "--now", now.isoformat()]
    runs = [
        subprocess.Popen(
            command, cwd=ROOT, env=subprocess_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        for _ in range(2)
    ]
    outputs = [run.communicate(timeout=180) for run in runs]
    for run, (_out, err) in zip(runs, outputs, strict=True):
        assert run.returncode == 0, err.decode()[-3000:]

    assert Message.objects.filter(rule=rule).count() == DUE
    assert AutomationLog.objects.filter(rule=rule, status="sent").count() == DUE
    assert Message.objects.values("session").distinct().count() == DUE
    fired, already = [], []
    for out, _ in outputs:
        match = re.search(r"fired (\d+), skipped 0, failed 0, already done (\d+)", out.decode())
        assert match, out.decode()
        fired.append(int(match[1]))
        already.append(int(match[2]))
    # Between them they fired each reminder once; each saw every one of them.
    assert sum(fired) == DUE
    assert [f + a for f, a in zip(fired, already, strict=True)] == [DUE, DUE]


@pytest.mark.postgres
@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_seed_scenario_session_created_in_the_admin_reaches_the_client_through_the_real_worker(client):
    """A session_created rule; staff book a session in the admin; the worker fires and delivers it."""
    from tests.factories import ManagerFactory

    manager = ManagerFactory(username="maria")
    client.force_login(manager)
    rule = AutomationRule.objects.create(
        name="Booking confirmation",
        trigger_event=TriggerEvent.SESSION_CREATED,
        channel="in_app",
        body_template="Hi {{ first_name }}, you're booked for {{ session_date }} at {{ session_time }}.",
    )
    customer = ClientFactory(first_name="Sam", trainer=TrainerFactory(username="anna"))
    starts = timezone.localtime(timezone.now() + timedelta(days=2)).replace(
        hour=10, minute=0, second=0, microsecond=0
    )
    response = client.post(
        reverse("admin:scheduling_session_add"),
        {
            "client": customer.pk,
            "trainer": customer.trainer.pk,
            "starts_at_0": starts.strftime("%Y-%m-%d"),
            "starts_at_1": "10:00:00",
            "duration_minutes": 60,
            "location": "Studio A",
            "status": "scheduled",
            "notes": "",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    session = Session.objects.get(client=customer)
    # The save only queued work: nothing rendered or sent in the request.
    assert not Message.objects.exists()

    worker = subprocess.Popen(
        [sys.executable, "manage.py", "qcluster"],
        cwd=ROOT,
        env=subprocess_env() | {"Q_WORKERS": "2"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 45
        delivered = Message.objects.filter(rule=rule, status=Message.Status.DELIVERED)
        while not delivered.exists() and time.monotonic() < deadline and worker.poll() is None:
            time.sleep(0.25)
        assert worker.poll() is None, worker.stderr.read().decode()[-2000:]
        message = delivered.get()
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        try:
            worker.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait()
        worker.stderr.close()

    assert message.client == customer and message.session == session
    assert message.body == f"Hi Sam, you're booked for {starts:%A} {starts.day} {starts:%B %Y} at 10:00."
    log = AutomationLog.objects.get(rule=rule)
    assert (log.status, log.occurrence_key, log.message) == ("sent", f"session:{session.pk}:created", message)
