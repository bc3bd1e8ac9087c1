from datetime import UTC, datetime, timedelta

import pytest
import requests
import time_machine
from anymail.backends.test import EmailBackend as AnymailTestBackend
from anymail.exceptions import AnymailAPIError

from clients.models import ConsentChange
from messaging.delivery import deliver_due
from messaging.models import Message, MessageEvent
from messaging.services import send_message
from tests.messaging.conftest import connection_refused, twilio_error_json

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)  # midday in London: outside quiet hours


def sms(client, body="See you tomorrow at 9", **kw):
    return send_message(client=client, channel="sms", body=body, **kw)


def refreshed(message):
    message.refresh_from_db()
    return message


def test_sms_goes_out_through_twilio_with_timeout_and_status_callback(client_obj, twilio_http):
    with time_machine.travel(T0, tick=False):
        message = sms(client_obj)
        assert deliver_due(limit=10) == 1

    message = refreshed(message)
    assert message.status == Message.Status.SENT
    assert message.provider_id.startswith("SM")
    assert message.attempts == 1
    assert message.sent_at == T0
    assert message.to_address == str(client_obj.phone)
    assert message.from_address == "+447700900000"
    (request,) = twilio_http.requests
    assert request["data"]["To"] == str(client_obj.phone)
    assert request["data"]["From"] == "+447700900000"
    assert request["data"]["StatusCallback"] == "https://crm.studio.example/messaging/twilio/status/"
    assert request["timeout"] == 10.0


def test_transient_errors_retry_with_exponential_backoff_then_succeed(client_obj, twilio_http, settings):
    settings.MESSAGING_RETRY_BASE_SECONDS = 60
    twilio_http.reply(503, twilio_error_json(503, 20500, "Service unavailable"))
    twilio_http.reply(429, twilio_error_json(429, 20429, "Too many requests"))
    twilio_http.fail_with(connection_refused())

    with time_machine.travel(T0, tick=False) as clock:
        message = sms(client_obj)
        deliver_due(limit=10)
        assert refreshed(message).status == Message.Status.QUEUED
        assert message.next_attempt_at == T0 + timedelta(seconds=60)
        assert "20500" in message.error

        # Not due yet: nothing is claimed.
        clock.move_to(T0 + timedelta(seconds=59))
        assert deliver_due(limit=10) == 0

        clock.move_to(T0 + timedelta(seconds=60))
        deliver_due(limit=10)
        assert refreshed(message).next_attempt_at == T0 + timedelta(seconds=60 + 120)

        clock.move_to(message.next_attempt_at)
        deliver_due(limit=10)
        assert refreshed(message).status == Message.Status.QUEUED
        assert message.next_attempt_at == T0 + timedelta(seconds=180 + 240)
        assert "Twilio not reached" in message.error

        clock.move_to(message.next_attempt_at)
        deliver_due(limit=10)

    message = refreshed(message)
    assert message.status == Message.Status.SENT
    assert message.attempts == 4
    assert message.error == ""
    assert len(twilio_http.requests) == 4


def test_transient_errors_fail_after_the_last_attempt_with_the_last_error(client_obj, twilio_http, settings):
    settings.MESSAGING_MAX_ATTEMPTS = 2
    twilio_http.reply(500, twilio_error_json(500, 20500, "first"))
    twilio_http.reply(502, twilio_error_json(502, 20500, "second"))
    with time_machine.travel(T0, tick=False) as clock:
        message = sms(client_obj)
        deliver_due(limit=10)
        clock.move_to(refreshed(message).next_attempt_at)
        deliver_due(limit=10)

    message = refreshed(message)
    assert message.status == Message.Status.FAILED
    assert message.attempts == 2
    assert "second" in message.error
    assert message.failed_at is not None


@pytest.mark.parametrize("code", [21211, 21614])
def test_permanent_twilio_errors_fail_at_once(client_obj, twilio_http, code):
    twilio_http.reply(400, twilio_error_json(400, code, "The 'To' number is not a valid phone number."))
    with time_machine.travel(T0, tick=False):
        message = sms(client_obj)
        deliver_due(limit=10)

    message = refreshed(message)
    assert message.status == Message.Status.FAILED
    assert message.attempts == 1
    assert str(code) in message.error
    assert message.next_attempt_at == T0  # not rescheduled


def test_twilio_21610_fails_and_records_the_sms_opt_out(client_obj, twilio_http):
    twilio_http.reply(400, twilio_error_json(400, 21610, "Attempt to send to unsubscribed recipient"))
    with time_machine.travel(T0, tick=False):
        message = sms(client_obj)
        deliver_due(limit=10)
        later = sms(client_obj, body="Another one")
        deliver_due(limit=10)

    assert refreshed(message).status == Message.Status.FAILED
    client_obj.refresh_from_db()
    assert client_obj.sms_opted_out_at == T0
    assert ConsentChange.objects.filter(
        client=client_obj, channel="sms", granted=False, source="provider"
    ).exists()
    # The next one is stopped before it reaches Twilio.
    assert refreshed(later).status == Message.Status.SUPPRESSED
    assert len(twilio_http.requests) == 1


def esp_error(status_code):
    response = requests.Response()
    response.status_code, response.reason, response._content = status_code, "ESP says no", b"{}"
    return AnymailAPIError("ESP API call failed", status_code=status_code, response=response)


def test_email_retries_an_esp_outage_then_sends_with_the_esp_message_id(client_obj, esp_email, monkeypatch):
    calls = []
    original = AnymailTestBackend.post_to_esp

    def flaky(self, payload, message):
        calls.append(message)
        if len(calls) == 1:
            raise esp_error(503)
        return original(self, payload, message)

    monkeypatch.setattr(AnymailTestBackend, "post_to_esp", flaky)
    with time_machine.travel(T0, tick=False) as clock:
        message = send_message(client=client_obj, channel="email", subject="Receipt", body="Thanks!")
        deliver_due(limit=10)
        assert refreshed(message).status == Message.Status.QUEUED
        clock.move_to(message.next_attempt_at)
        deliver_due(limit=10)

    message = refreshed(message)
    assert message.status == Message.Status.SENT
    assert message.provider_id == "0"  # the test ESP's id: its outbox index
    assert len(esp_email) == 1


def test_email_rejected_by_the_esp_fails_at_once(client_obj, esp_email, monkeypatch):
    def reject(self, payload, message):
        raise esp_error(422)

    monkeypatch.setattr(AnymailTestBackend, "post_to_esp", reject)
    message = send_message(client=client_obj, channel="email", subject="Hi", body="Hello")
    deliver_due(limit=10)
    message = refreshed(message)
    assert message.status == Message.Status.FAILED
    assert message.attempts == 1


def test_sms_without_twilio_credentials_goes_to_the_log(client_obj, settings, caplog):
    settings.TWILIO_ACCOUNT_SID = ""
    caplog.set_level("INFO", logger="messaging.channels.sms")
    with time_machine.travel(T0, tick=False):
        message = sms(client_obj, body="Offline demo")
        deliver_due(limit=10)
    message = refreshed(message)
    assert message.status == Message.Status.SENT
    assert message.provider_id.startswith("log-")
    assert "Offline demo" in caplog.text


def test_in_app_message_is_delivered_at_once_and_read_when_opened(client_obj):
    from messaging.services import client_read_messages

    message = send_message(client=client_obj, channel="in_app", body="Your plan is ready")
    deliver_due(limit=10)
    assert refreshed(message).status == Message.Status.DELIVERED
    assert message.delivered_at is not None

    assert client_read_messages(client=client_obj) == 1
    assert refreshed(message).status == Message.Status.READ
    assert message.read_at is not None


def test_monthly_sms_cap_suppresses_with_a_clear_reason(client_obj, twilio_http, settings):
    settings.SMS_MONTHLY_CAP = 2
    with time_machine.travel(T0, tick=False):
        messages = [sms(client_obj, body=f"Reminder {i}") for i in range(3)]
        deliver_due(limit=10)

    statuses = [refreshed(m).status for m in messages]
    assert statuses == [Message.Status.SENT, Message.Status.SENT, Message.Status.SUPPRESSED]
    assert messages[2].error == "monthly SMS cap of 2 reached"
    assert len(twilio_http.requests) == 2


def test_every_step_is_in_the_history(client_obj, twilio_http):
    twilio_http.reply(503, twilio_error_json(503, 20500, "down"))
    with time_machine.travel(T0, tick=False) as clock:
        message = sms(client_obj)
        deliver_due(limit=10)
        clock.move_to(refreshed(message).next_attempt_at)
        deliver_due(limit=10)

    # The detour is in the history; the plain success is in the timestamps.
    assert list(MessageEvent.objects.filter(message=message).values_list("status", flat=True)) == ["queued"]
    assert "attempt 1 failed" in MessageEvent.objects.get(message=message).detail
    assert refreshed(message).sent_at is not None


def test_a_batch_costs_one_write_per_message(client_obj, esp_email, django_assert_num_queries, on_postgres):
    for i in range(3):
        send_message(client=client_obj, channel="email", subject=f"S{i}", body="Hello")
    # recover_stuck: 1 select of stuck rows
    # claim: savepoint, select ids (non-marketing), exists (marketing email), update, select claimed, release
    # PostgreSQL only: SET / RESET synchronous_commit around the batch
    # per message (3×): record the outcome
    with django_assert_num_queries(1 + 6 + (2 if on_postgres else 0) + 3):
        assert deliver_due(limit=10) == 3
