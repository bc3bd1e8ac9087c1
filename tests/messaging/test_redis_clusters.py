"""Several worker clusters ("hosts") on the Redis broker, as real ``qcluster`` processes.

PostgreSQL + Redis; skipped loudly without either. Each test has a Redis queue of
its own (``tests.support.qcluster.redis_queue``). Provider calls are counted from
the SMS log backend's lines, so "sent once" means the provider was asked once.
"""

import time
from collections import Counter
from datetime import timedelta

import pytest
from django.utils import timezone

from automation.models import AutomationLog, AutomationRule, TriggerEvent
from messaging.models import Message, MessageEvent
from messaging.services import kick_delivery
from scheduling.services import session_book
from tests.factories import ClientFactory, TrainerFactory
from tests.support.qcluster import QCluster, forget_redis_queue, marked, redis_queue, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

COUNT = 10_000
OPEN = (Message.Status.QUEUED, Message.Status.SENDING)


@pytest.fixture
def start_cluster(tmp_path, monkeypatch):
    env = redis_queue(monkeypatch)
    started = []

    def start(name, **settings):
        cluster = QCluster(name, tmp_path / f"{name}.log", **env, **settings).start()
        started.append(cluster)
        return cluster

    yield start
    for cluster in started:
        cluster.stop()
    forget_redis_queue(env)


def queue_sms(count: int) -> dict[int, int]:
    """``count`` queued SMS (the row ``send_message`` writes) to 20 clients; marker -> pk."""
    trainer = TrainerFactory()
    clients = ClientFactory.create_batch(20, trainer=trainer)
    now = timezone.now()
    rows = Message.objects.bulk_create(
        [
            Message(
                client=clients[n % 20],
                channel="sms",
                body=marked(n),
                to_address=str(clients[n % 20].phone),
                next_attempt_at=now,
            )
            for n in range(count)
        ],
        batch_size=2000,
    )
    return {n: row.pk for n, row in enumerate(rows)}


def kick(times: int):
    # What the transactions that queued the messages do: one kick each, through Redis.
    for _ in range(times):
        kick_delivery()


def open_messages() -> int:
    return Message.objects.filter(status__in=OPEN).count()


def test_two_clusters_drain_ten_thousand_messages_each_sent_exactly_once(start_cluster):
    queue_sms(COUNT)
    host_a, host_b = start_cluster("host-a"), start_cluster("host-b")
    host_a.wait_running()
    host_b.wait_running()

    kick(8)
    wait_until(lambda: open_messages() == 0, timeout=120, clusters=(host_a, host_b))

    calls_a, calls_b = host_a.sms_sent(), host_b.sms_sent()
    calls = calls_a + calls_b
    assert set(calls) == set(range(COUNT)), f"{COUNT - len(calls)} never sent"
    assert [n for n, times in calls.items() if times > 1] == []
    assert calls_a and calls_b, "both hosts took part"
    assert Counter(Message.objects.values_list("status", flat=True)) == {Message.Status.SENT: COUNT}


def test_a_cluster_killed_mid_drain_loses_and_doubles_nothing(start_cluster):
    by_marker = queue_sms(4_000)
    # Recovery's timeout shortened from 10 minutes, the other timings below it in the
    # order the system check demands: a live worker's batch is never that old.
    fast_recovery = {
        "MESSAGING_TASK_SECONDS": 2,
        "TWILIO_HTTP_TIMEOUT": 1,
        "Q_TIMEOUT_SECONDS": 4,
        "Q_RETRY_SECONDS": 6,
        "MESSAGING_SENDING_TIMEOUT_SECONDS": 8,
    }
    host_a = start_cluster("host-a", **fast_recovery)
    host_b = start_cluster("host-b", **fast_recovery)
    host_a.wait_running()
    host_b.wait_running()

    kick(8)
    wait_until(lambda: host_a.sms_count() >= 300, timeout=60, every=0.02, clusters=(host_a, host_b))
    host_a.kill()
    assert open_messages() > 0, "host-a was killed mid-drain"

    # host-b drains the rest; the kicks stand in for the every-minute delivery schedule,
    # whose runs pick up what host-a left "sending" once it is older than the timeout.
    last_kick = 0.0

    def drained():
        nonlocal last_kick
        if time.monotonic() - last_kick > 2:
            kick(1)
            last_kick = time.monotonic()
        return open_messages() == 0

    wait_until(drained, timeout=120, clusters=(host_b,))

    calls = host_a.sms_sent() + host_b.sms_sent()
    status = dict(Message.objects.values_list("pk", "status"))
    unknown = set(
        Message.objects.filter(status=Message.Status.FAILED, error__startswith="outcome unknown").values_list(
            "pk", flat=True
        )
    )
    sent = {pk for pk, s in status.items() if s == Message.Status.SENT}
    assert len(unknown) <= 2, "at most one 'outcome unknown' per killed worker (host-a ran two)"
    assert sent | unknown == set(by_marker.values()), "0 lost, 0 stuck"
    assert [n for n, times in calls.items() if times > 1] == [], "0 sent twice"
    assert all(calls[n] == 1 for n, pk in by_marker.items() if pk in sent)
    assert MessageEvent.objects.filter(detail="recovered from a stopped worker").exists() or unknown, (
        "host-a died holding a batch, and recovery released it"
    )


def test_a_booking_fires_its_rule_through_redis(start_cluster):
    rule = AutomationRule.objects.create(
        name="Booked",
        trigger_event=TriggerEvent.SESSION_CREATED,
        channel="sms",
        body_template="Hi {{ first_name }}, you are booked for {{ session_time }} [m7]",
    )
    host_a = start_cluster("host-a")
    host_a.wait_running()

    trainer = TrainerFactory()
    client = ClientFactory(trainer=trainer)
    # The booking enqueues the event after commit; the worker fires the rule, whose
    # message kicks delivery, all through Redis.
    session = session_book(
        trainer=trainer, client=client, starts_at=timezone.now() + timedelta(days=2), duration_minutes=60
    )

    wait_until(lambda: host_a.sms_sent()[7] == 1, timeout=60, clusters=(host_a,))
    log = AutomationLog.objects.get(rule=rule)
    assert (log.status, log.occurrence_key) == (AutomationLog.Status.SENT, f"session:{session.pk}:created")
    wait_until(lambda: Message.objects.filter(pk=log.message_id, status="sent").exists(), timeout=10)
