"""The periodic schedules with several worker clusters ("hosts") on one Redis.

django-q2 1.11.1's scheduler (``django_q/scheduler.py``), which every cluster's guard
calls every ~30 s, reads the due schedules with ``select_for_update()`` — no
``skip_locked`` — inside one transaction that also creates the task and moves
``next_run`` on. A second cluster's scheduler waits for that row lock, then
PostgreSQL re-checks ``next_run < now`` on the committed row, finds it no longer
due and skips it: one task per period across all clusters (SQLite takes the write
lock when the transaction starts, which serialises the same way).

It can still run a period twice: with Redis the task is pushed before the
schedule's transaction commits, so if that commit fails (the database restarts
at that moment) ``next_run`` stays put and the next round pushes the task again.
And a run started by a schedule may overlap one started by cron, the trigger
endpoint or a kick. So each scheduled job is also safe to run twice at once;
the last test runs all three twice on two clusters and counts the sends.
"""

import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
import redis
from django.utils import timezone
from django_q import scheduler as q_scheduler
from django_q.models import Schedule, Task
from django_q.signing import SignedPackage
from django_q.tasks import async_task

from automation import schedules as automation_schedules
from automation.models import AutomationLog, AutomationRule, TriggerEvent
from campaigns import schedules as campaign_schedules
from campaigns.models import Campaign, Segment
from messaging import schedules as messaging_schedules
from messaging.models import Message
from tests.factories import ClientFactory, ManagerFactory, SessionFactory
from tests.support.qcluster import REDIS_URL, QCluster, forget_redis_queue, marked, redis_queue, wait_until
from tests.support.threads import run_in_threads

pytestmark = [pytest.mark.integration, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

DELIVERY = messaging_schedules.SCHEDULE_NAME
SCHEDULES = {
    DELIVERY: messaging_schedules.SCHEDULE_FUNC,
    automation_schedules.SCHEDULE_NAME: automation_schedules.SCAN_TASK,
    campaign_schedules.SCHEDULE_NAME: campaign_schedules.SCHEDULE_FUNC,
    automation_schedules.PRUNE_SCHEDULE_NAME: automation_schedules.PRUNE_TASK,
}


@pytest.fixture
def redis_env(monkeypatch):
    env = redis_queue(monkeypatch)
    yield env
    forget_redis_queue(env)


def due_schedules() -> set[str]:
    """Every schedule ``migrate`` makes (a flushed test database has none), due now; their names."""
    for app_schedules in (messaging_schedules, automation_schedules, campaign_schedules):
        app_schedules.ensure_schedule()
    Schedule.objects.update(next_run=timezone.now() - timedelta(seconds=5))
    names = set(Schedule.objects.values_list("name", flat=True))
    assert names >= set(SCHEDULES)
    return names


def queued_tasks(env) -> Counter:
    """Tasks waiting in the Redis queue, by schedule (django-q2 groups them by its name)."""
    raw = redis.from_url(REDIS_URL).lrange(f"django_q:{env['Q_NAME']}:q", 0, -1)
    return Counter(SignedPackage.loads(item)["group"] for item in raw)


def test_two_schedulers_racing_create_one_task_per_schedule_and_period(redis_env, monkeypatch):
    real_async_task = q_scheduler.async_task

    def async_task_then_linger(*args, **kwargs):
        # Hold the schedule rows a moment, so the other scheduler is surely waiting for them.
        task = real_async_task(*args, **kwargs)
        time.sleep(0.1)
        return task

    monkeypatch.setattr(q_scheduler, "async_task", async_task_then_linger)
    periods = 3
    for _ in range(periods):
        names = due_schedules()
        run_in_threads(q_scheduler.scheduler, count=2)  # two clusters' guards at once

    assert queued_tasks(redis_env) == dict.fromkeys(names, periods)
    assert all(run > timezone.now() for run in Schedule.objects.values_list("next_run", flat=True))


def test_two_real_clusters_run_each_schedule_once_per_period(redis_env, tmp_path):
    names = due_schedules()
    settings = {"DJANGO_SETTINGS_MODULE": "tests.support.qcluster_settings"}
    host_a = QCluster("host-a", tmp_path / "host-a.log", **redis_env, **settings).start()
    host_b = QCluster("host-b", tmp_path / "host-b.log", **redis_env, **settings).start()
    try:
        # Both guards call the scheduler on their first round, right after "running".
        host_a.wait_running()
        host_b.wait_running()
        done = Task.objects.filter(group__in=names)
        wait_until(lambda: done.count() >= len(names), timeout=60, clusters=(host_a, host_b))
        time.sleep(3)  # room for a second run, were there one
        created = host_a.log().count("from schedule [") + host_b.log().count("from schedule [")
    finally:
        host_a.stop()
        host_b.stop()

    assert Counter(done.values_list("group", flat=True)) == dict.fromkeys(names, 1)
    assert created == len(names)
    assert all(run > timezone.now() for run in Schedule.objects.values_list("next_run", flat=True))


def test_every_scheduled_job_run_twice_at_once_on_two_clusters_sends_once(redis_env, tmp_path):
    Schedule.objects.all().delete()  # only the doubled runs below
    manager = ManagerFactory()
    # Delivery: queued SMS. Automation: a 24 h reminder due now. Campaigns: one due now.
    people = [ClientFactory(first_name=f"C{n}", trainer=manager, email_marketing=True) for n in range(5)]
    now = timezone.now()
    queued = Message.objects.bulk_create(
        [
            Message(client=c, channel="sms", body=marked(n), to_address=str(c.phone), next_attempt_at=now)
            for n, c in enumerate(people * 40)
        ]
    )
    rule = AutomationRule.objects.create(
        name="Reminder",
        trigger_event=TriggerEvent.SESSION_SCHEDULED,
        channel="sms",
        offset_hours=24,
        body_template="See you tomorrow, {{ first_name }} [m9999]",
    )
    AutomationRule.objects.filter(pk=rule.pk).update(created_at=now - timedelta(days=1))
    session = SessionFactory(client=people[0], starts_at=now + timedelta(hours=24, minutes=-2))
    type(session).objects.filter(pk=session.pk).update(created_at=now - timedelta(days=3))
    segment = Segment.objects.create(name="Everyone", owner=manager)
    campaign = Campaign.objects.create(
        name="Spring", subject="News for {{ first_name }}", body="Hi!", segment=segment, created_by=manager
    )
    Campaign.objects.filter(pk=campaign.pk).update(status=Campaign.Status.SCHEDULED, scheduled_at=now)

    email_dir = tmp_path / "email"
    email_dir.mkdir()
    settings = {
        "DJANGO_SETTINGS_MODULE": "tests.support.qcluster_settings",
        "EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
        "TEST_EMAIL_DIR": email_dir,
        "MARKETING_EMAILS_PER_MINUTE": 0,
    }
    host_a = QCluster("host-a", tmp_path / "host-a.log", **redis_env, **settings).start()
    host_b = QCluster("host-b", tmp_path / "host-b.log", **redis_env, **settings).start()
    try:
        host_a.wait_running()
        host_b.wait_running()
        # Each job twice, as if the scheduler had double-run the period (and four workers free).
        for func in SCHEDULES.values():
            async_task(func)
            async_task(func)
        open_messages = Message.objects.filter(status__in=["queued", "sending"])
        wait_until(
            lambda: (
                Task.objects.filter(func__in=SCHEDULES.values()).count() >= 2 * len(SCHEDULES)
                and not open_messages.exists()
                and AutomationLog.objects.exists()
            ),
            timeout=60,
            clusters=(host_a, host_b),
        )
        # The scan and the planner may have queued their messages after a delivery run
        # ended; one more run delivers them.
        async_task(SCHEDULES[DELIVERY])
        wait_until(lambda: not open_messages.exists(), timeout=30, clusters=(host_a, host_b))
    finally:
        host_a.stop()
        host_b.stop()

    sms = host_a.sms_sent() + host_b.sms_sent()
    assert sms == dict.fromkeys([*range(len(queued)), 9999], 1)
    assert AutomationLog.objects.get(rule=rule).status == AutomationLog.Status.SENT
    subjects = Counter(
        line.removeprefix("Subject: ")
        for path in Path(email_dir).iterdir()
        for line in path.read_text().splitlines()
        if line.startswith("Subject: ")
    )
    assert subjects == {f"News for C{n}": 1 for n in range(5)}
    assert Message.objects.filter(campaign=campaign).count() == 5
