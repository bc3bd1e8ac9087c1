"""GET /healthz/: each check fails on its own, anonymous callers get only the status."""

from datetime import UTC, datetime, timedelta

import pytest
import redis
import time_machine
from django.db import OperationalError, connection
from django_q.conf import Conf

from automation.models import AutomationLog, AutomationRule, ScanState
from automation.scan import STATE_NAME
from messaging.heartbeat import last_heartbeat, record_heartbeat
from messaging.models import Message
from messaging.tasks import deliver_pending
from tests.factories import ClientFactory

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
TOKEN = "health-token-for-tests"


@pytest.fixture
def clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def health_token(settings):
    settings.HEALTH_TOKEN = TOKEN
    settings.HEALTH_WORKER_MAX_AGE_MINUTES = 10
    settings.HEALTH_QUEUE_MAX_AGE_MINUTES = 15


@pytest.fixture
def healthy(db, clock, health_token):
    record_heartbeat(now=NOW - timedelta(minutes=1))


def get(client, token=None):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
    return client.get("/healthz/", **headers)


def queued(*, created, channel="sms", category="transactional", next_attempt_at=None):
    with time_machine.travel(created, tick=False):
        message = Message.objects.create(
            client=ClientFactory(), channel=channel, category=category, body="Hi", to_address="+447700900123"
        )
    if next_attempt_at:
        Message.objects.filter(pk=message.pk).update(next_attempt_at=next_attempt_at)
    return message


def test_healthy_answers_200_with_only_the_status_for_anonymous_callers(client, healthy):
    response = get(client)
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "failing": []}
    assert "no-cache" in response["Cache-Control"]


def test_a_worker_that_never_checked_in_fails_the_worker_check(client, db, clock, health_token):
    response = get(client)
    assert response.status_code == 503
    assert response.json() == {"status": "fail", "failing": ["worker"]}


def test_a_stale_check_in_fails_only_after_the_limit(client, db, clock, health_token):
    record_heartbeat(now=NOW - timedelta(minutes=9, seconds=59))
    assert get(client).status_code == 200
    record_heartbeat(now=NOW - timedelta(minutes=10, seconds=1))
    response = get(client, TOKEN)
    assert response.status_code == 503
    assert response.json()["failing"] == ["worker"]
    assert response.json()["checks"]["worker"]["detail"] == "last check-in 10 min ago (limit 10 min)"


def test_the_delivery_task_checks_in_even_when_nothing_is_due(client, db, clock, health_token):
    assert last_heartbeat() is None
    deliver_pending()
    beat = last_heartbeat()
    assert beat.beat_at == NOW
    assert beat.worker.endswith(f":{__import__('os').getpid()}")
    assert get(client).status_code == 200


def test_a_message_due_for_too_long_fails_the_queue_check(client, healthy):
    message = queued(created=NOW - timedelta(minutes=14))
    assert get(client).status_code == 200
    Message.objects.filter(pk=message.pk).update(created_at=NOW - timedelta(minutes=16))
    response = get(client, TOKEN)
    assert response.status_code == 503
    assert response.json()["failing"] == ["queue"]
    assert response.json()["figures"]["oldest_due_seconds"] == 16 * 60


def test_a_retry_or_deferral_is_due_from_its_own_time_not_from_when_it_was_queued(client, healthy):
    queued(created=NOW - timedelta(hours=10), next_attempt_at=NOW - timedelta(minutes=5))
    queued(created=NOW - timedelta(hours=10), next_attempt_at=NOW + timedelta(hours=8))  # quiet hours
    response = get(client, TOKEN)
    assert response.status_code == 200
    assert response.json()["figures"]["oldest_due_seconds"] == 5 * 60


def test_marketing_email_waiting_for_the_throttle_is_counted_but_does_not_fail(client, healthy):
    queued(created=NOW - timedelta(hours=2), channel="email", category="marketing")
    response = get(client, TOKEN)
    assert response.status_code == 200
    figures = response.json()["figures"]
    assert figures["marketing_email_due"] == 1
    assert figures["oldest_due_seconds"] is None


def test_an_unreachable_database_fails_every_check_that_needs_it(client, healthy):
    def refuse(execute, sql, params, many, context):
        raise OperationalError("connection to server at 127.0.0.1 refused")

    with connection.execute_wrapper(refuse):
        response = get(client, TOKEN)
    assert response.status_code == 503
    body = response.json()
    assert body["failing"] == ["database", "broker", "worker", "queue"]  # the ORM broker is the database
    assert "refused" in body["checks"]["database"]["detail"]
    assert body["figures"] is None


def test_an_unreachable_redis_broker_fails_the_broker_check(client, healthy, monkeypatch):
    monkeypatch.setattr(Conf, "ORM", None)
    monkeypatch.setattr(Conf, "REDIS", "redis://127.0.0.1:1/0")  # nothing listens on port 1
    response = get(client, TOKEN)
    assert response.status_code == 503
    assert response.json()["failing"] == ["broker"]
    assert "ConnectionError" in response.json()["checks"]["broker"]["detail"]
    assert response.json()["figures"]["broker_tasks_waiting"] is None


def test_a_redis_broker_that_answers_passes(client, healthy, monkeypatch):
    url = "redis://127.0.0.1:6379/14"
    try:
        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    except redis.RedisError:
        pytest.skip("needs Redis on 127.0.0.1:6379")
    monkeypatch.setattr(Conf, "ORM", None)
    monkeypatch.setattr(Conf, "REDIS", url)
    response = get(client, TOKEN)
    assert response.status_code == 200
    assert response.json()["checks"]["broker"]["detail"].startswith("Redis ")


def test_the_token_shows_the_figures(client, healthy):
    trainer_rule = AutomationRule.objects.create(
        name="Reminder", trigger_event="session_scheduled", channel="sms", body_template="Hi"
    )
    AutomationLog.objects.create(rule=trainer_rule, occurrence_key="a", status="failed", error="boom")
    queued(created=NOW - timedelta(minutes=3), channel="email")
    queued(created=NOW - timedelta(minutes=2))
    queued(created=NOW - timedelta(minutes=1))
    failed = queued(created=NOW - timedelta(hours=3))
    Message.objects.filter(pk=failed.pk).update(status="failed", failed_at=NOW - timedelta(minutes=30))
    old_failure = queued(created=NOW - timedelta(hours=3))
    Message.objects.filter(pk=old_failure.pk).update(status="failed", failed_at=NOW - timedelta(hours=2))
    ScanState.objects.create(name=STATE_NAME, scanned_until=NOW - timedelta(minutes=4))

    response = get(client, TOKEN)
    assert response.status_code == 200
    body = response.json()
    assert set(body["checks"]) == {"database", "broker", "worker", "queue"}
    assert body["figures"] == {
        "queued_by_channel": {"email": 1, "sms": 2, "in_app": 0},
        "due_now": 3,
        "marketing_email_due": 0,
        "oldest_due_seconds": 180,
        "last_worker_check_in": "2026-12-01T11:59:00Z",
        "last_scan_until": "2026-12-01T11:56:00Z",
        "failed_last_hour": {"messages": 1, "automation": 1},
        "broker_tasks_waiting": 0,
    }


def test_anonymous_callers_never_see_figures_even_when_failing(client, db, clock, health_token):
    queued(created=NOW - timedelta(hours=1))
    body = get(client).json()
    assert body == {"status": "fail", "failing": ["worker", "queue"]}


@pytest.mark.parametrize("header", ["Bearer wrong", "Basic " + TOKEN, "Bearer"])
def test_a_wrong_token_is_refused(client, healthy, header):
    response = client.get("/healthz/", HTTP_AUTHORIZATION=header)
    assert response.status_code == 403
    assert "figures" not in response.json()


def test_no_token_configured_means_nobody_sees_figures(client, healthy, settings):
    settings.HEALTH_TOKEN = ""
    assert client.get("/healthz/", HTTP_AUTHORIZATION="Bearer ").status_code == 403
    assert get(client).json() == {"status": "ok", "failing": []}


def test_only_get(client, healthy):
    assert client.post("/healthz/").status_code == 405


def test_a_failing_probe_logs_one_warning_naming_the_check_not_a_server_error(client, db, clock, caplog):
    get(client)
    records = [(r.name, r.levelname) for r in caplog.records]
    assert ("monitoring.views", "WARNING") in records
    assert not any(name == "django.request" for name, _ in records)
