"""What a failed provider call means: retry, outcome unknown, or a recipient refused for good.

Twilio and the ESP are faked on the wire only: Twilio's HTTP client, and requests'
session under anymail's real Postmark backend. The errors are the ones requests raises.
"""

from datetime import UTC, datetime

import pytest
import time_machine

from clients.models import ConsentChange
from messaging.delivery import deliver_due
from messaging.models import Message, MessageEvent
from messaging.services import message_retry, send_message
from tests.messaging.conftest import (
    connect_timeout,
    connection_dropped,
    connection_refused,
    dns_failure,
    postmark_inactive,
    postmark_sent,
    read_timeout,
    twilio_error_json,
)

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)  # midday in London: outside quiet hours

NEVER_SENT = {
    "connection-refused": connection_refused,
    "dns-failure": dns_failure,
    "connect-timeout": connect_timeout,
}
MAYBE_SENT = {"read-timeout": read_timeout, "connection-dropped": connection_dropped}


def deliver(client_obj, channel, settings, attempts=3):
    """Send one message and run the worker until it stops retrying (at most ``attempts`` runs)."""
    settings.MESSAGING_MAX_ATTEMPTS = attempts
    with time_machine.travel(T0, tick=False) as clock:
        message = send_message(client=client_obj, channel=channel, subject="Receipt", body="Thanks for today")
        for _ in range(attempts):
            deliver_due(limit=10)
            message.refresh_from_db()
            if message.status != Message.Status.QUEUED:
                break
            clock.move_to(message.next_attempt_at)
    return message


# --- SMS through Twilio ---------------------------------------------------------------


@pytest.mark.parametrize("error", NEVER_SENT.values(), ids=NEVER_SENT.keys())
def test_sms_that_never_reached_twilio_is_retried(client_obj, twilio_http, settings, error):
    twilio_http.fail_with(error())
    twilio_http.fail_with(error())
    message = deliver(client_obj, "sms", settings)
    assert message.status == Message.Status.SENT
    assert message.attempts == 3
    assert len(twilio_http.requests) == 3


@pytest.mark.parametrize("status, code", [(429, 20429), (503, 20503)])
def test_sms_twilio_turned_away_is_retried(client_obj, twilio_http, settings, status, code):
    twilio_http.reply(status, twilio_error_json(status, code, "try later"))
    message = deliver(client_obj, "sms", settings)
    assert message.status == Message.Status.SENT
    assert len(twilio_http.requests) == 2


@pytest.mark.parametrize("error", MAYBE_SENT.values(), ids=MAYBE_SENT.keys())
def test_sms_whose_answer_never_came_fails_as_outcome_unknown_and_is_not_resent(
    client_obj, twilio_http, settings, error
):
    twilio_http.fail_with(error())
    message = deliver(client_obj, "sms", settings)
    assert message.status == Message.Status.FAILED
    assert message.error.startswith("outcome unknown")
    assert "retry now" in message.error
    assert message.attempts == 1
    assert len(twilio_http.requests) == 1  # one call: the client gets at most one text
    assert MessageEvent.objects.filter(message=message, status="failed").exists()

    # Staff checked with the client, who got nothing: "retry now" sends it.
    with time_machine.travel(T0, tick=False):
        assert message_retry(message=message)
        deliver_due(limit=10)
    message.refresh_from_db()
    assert message.status == Message.Status.SENT
    assert len(twilio_http.requests) == 2


def test_sms_gateway_timeout_is_outcome_unknown(client_obj, twilio_http, settings):
    twilio_http.reply(504, "<html>Gateway Time-out</html>")
    message = deliver(client_obj, "sms", settings)
    assert message.status == Message.Status.FAILED
    assert message.error.startswith("outcome unknown")
    assert len(twilio_http.requests) == 1


def test_twilio_21610_still_records_the_opt_out(client_obj, twilio_http, settings):
    twilio_http.reply(400, twilio_error_json(400, 21610, "Attempt to send to unsubscribed recipient"))
    message = deliver(client_obj, "sms", settings)
    assert message.status == Message.Status.FAILED
    client_obj.refresh_from_db()
    assert client_obj.sms_opted_out_at is not None
    assert ConsentChange.objects.get(client=client_obj, source="provider").detail.startswith("Twilio 21610")


# --- Email through anymail's Postmark backend -----------------------------------------


@pytest.fixture
def email_client(client_obj):
    client_obj.email = "pat@example.com"
    client_obj.save(update_fields=["email"])
    return client_obj


@pytest.mark.parametrize("error", NEVER_SENT.values(), ids=NEVER_SENT.keys())
def test_email_that_never_reached_the_esp_is_retried(email_client, esp_http, settings, error):
    esp_http.fail_with(error())
    esp_http.fail_with(error())
    message = deliver(email_client, "email", settings)
    assert message.status == Message.Status.SENT
    assert message.provider_id == "pm-3"
    assert len(esp_http.requests) == 3
    assert esp_http.requests[0]["url"] == "https://api.postmarkapp.com/email"


@pytest.mark.parametrize("status", [429, 503])
def test_email_the_esp_turned_away_is_retried(email_client, esp_http, settings, status):
    esp_http.reply(status, {"ErrorCode": 100, "Message": "try later"})
    message = deliver(email_client, "email", settings)
    assert message.status == Message.Status.SENT
    assert len(esp_http.requests) == 2


@pytest.mark.parametrize("error", MAYBE_SENT.values(), ids=MAYBE_SENT.keys())
def test_email_whose_answer_never_came_fails_as_outcome_unknown_and_is_not_resent(
    email_client, esp_http, settings, error
):
    esp_http.fail_with(error())
    message = deliver(email_client, "email", settings)
    assert message.status == Message.Status.FAILED
    assert message.error.startswith("outcome unknown")
    assert len(esp_http.requests) == 1


def test_postmark_inactive_recipient_fails_the_email_and_suppresses_the_address(
    email_client, esp_http, settings
):
    esp_http.reply(422, postmark_inactive("pat@example.com"))
    message = deliver(email_client, "email", settings)
    assert message.status == Message.Status.FAILED
    assert message.attempts == 1
    assert "inactive or suppressed" in message.error
    email_client.refresh_from_db()
    assert email_client.email_suppressed_at is not None
    assert "Postmark" in email_client.email_suppressed_reason
    assert not email_client.can_receive("email")
    assert ConsentChange.objects.filter(client=email_client, channel="email", granted=False).exists()
    # The next email is stopped before it reaches the ESP.
    later = deliver(email_client, "email", settings)
    assert later.status == Message.Status.SUPPRESSED
    assert len(esp_http.requests) == 1


def test_a_recipient_refused_while_recipient_status_is_ignored_is_still_suppressed(
    email_client, esp_http, settings
):
    settings.ANYMAIL = {**settings.ANYMAIL, "IGNORE_RECIPIENT_STATUS": True}
    esp_http.reply(422, postmark_inactive("pat@example.com"))
    message = deliver(email_client, "email", settings)
    assert message.status == Message.Status.FAILED
    email_client.refresh_from_db()
    assert email_client.email_suppressed_at is not None


def test_an_invalid_address_fails_without_suppressing(email_client, esp_http, settings):
    esp_http.reply(422, {"ErrorCode": 300, "Message": "Invalid 'To' address: 'pat@example.com'."})
    message = deliver(email_client, "email", settings)
    assert message.status == Message.Status.FAILED
    assert message.attempts == 1
    email_client.refresh_from_db()
    assert email_client.email_suppressed_at is None


def test_a_plain_postmark_send_records_its_message_id(email_client, esp_http, settings):
    esp_http.reply(200, postmark_sent("pat@example.com", "pm-abc"))
    message = deliver(email_client, "email", settings)
    assert message.status == Message.Status.SENT
    assert message.provider_id == "pm-abc"
    assert esp_http.requests[0]["json"]["To"] == "pat@example.com"
