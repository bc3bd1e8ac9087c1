import base64
import json
from datetime import UTC, datetime

import pytest
import time_machine
from anymail.signals import AnymailTrackingEvent, tracking
from twilio.request_validator import RequestValidator

from clients.models import ConsentChange
from messaging.delivery import deliver_due
from messaging.models import Message, MessageEvent
from messaging.services import send_message
from tests.factories import ClientFactory
from tests.messaging.conftest import twilio_post

pytestmark = pytest.mark.django_db

STATUS_URL = "/messaging/twilio/status/"
INBOUND_URL = "/messaging/twilio/inbound/"
NOON = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


@pytest.fixture
def sent_sms(client_obj, twilio_http):
    with time_machine.travel(NOON, tick=False):
        message = send_message(client=client_obj, channel="sms", body="See you")
        deliver_due(limit=10)
    message.refresh_from_db()
    assert message.status == Message.Status.SENT
    return message


def status_params(message, status, **extra):
    return {"MessageSid": message.provider_id, "MessageStatus": status, "AccountSid": "AC1", **extra}


def test_status_callback_moves_the_message_to_delivered(client, sent_sms):
    response = twilio_post(client, STATUS_URL, status_params(sent_sms, "delivered"))
    assert response.status_code == 204
    sent_sms.refresh_from_db()
    assert sent_sms.status == Message.Status.DELIVERED
    assert sent_sms.delivered_at is not None


def test_signature_is_checked_against_site_url_not_the_proxied_request(client, sent_sms):
    # Behind a proxy the app sees http://localhost:8000; Twilio signed https://crm.studio.example.
    response = twilio_post(
        client, STATUS_URL, status_params(sent_sms, "delivered"), HTTP_HOST="localhost:8000"
    )
    assert response.status_code == 204


@pytest.mark.parametrize(
    "signing",
    [
        {"token": "someone-elses-token"},
        {"site": "http://testserver"},
    ],
    ids=["wrong-token", "wrong-url"],
)
def test_a_forged_status_callback_is_refused_and_writes_nothing(client, sent_sms, signing):
    events_before = MessageEvent.objects.count()
    response = twilio_post(client, STATUS_URL, status_params(sent_sms, "delivered"), **signing)
    assert response.status_code == 403
    sent_sms.refresh_from_db()
    assert sent_sms.status == Message.Status.SENT
    assert MessageEvent.objects.count() == events_before


def test_a_callback_without_signature_is_refused(client, sent_sms):
    assert client.post(STATUS_URL, status_params(sent_sms, "delivered")).status_code == 403
    assert client.get(STATUS_URL).status_code == 405


def test_out_of_order_and_repeated_callbacks_never_move_a_status_back(client, sent_sms):
    for status in ["delivered", "sent", "queued", "delivered", "sent"]:
        assert twilio_post(client, STATUS_URL, status_params(sent_sms, status)).status_code == 204
    sent_sms.refresh_from_db()
    assert sent_sms.status == Message.Status.DELIVERED
    # Failures cannot overwrite a delivery either.
    twilio_post(client, STATUS_URL, status_params(sent_sms, "undelivered", ErrorCode="30003"))
    sent_sms.refresh_from_db()
    assert sent_sms.status == Message.Status.DELIVERED


def test_undelivered_callback_fails_the_message_with_the_error_code(client, sent_sms):
    twilio_post(client, STATUS_URL, status_params(sent_sms, "undelivered", ErrorCode="30003"))
    sent_sms.refresh_from_db()
    assert sent_sms.status == Message.Status.FAILED
    assert "30003" in sent_sms.error


def test_callback_for_an_unknown_sid_is_accepted_and_ignored(client, twilio_settings):
    params = {"MessageSid": "SMunknown", "MessageStatus": "delivered"}
    assert twilio_post(client, STATUS_URL, params).status_code == 204


def inbound(client, body, number):
    params = {
        "MessageSid": f"SMin{abs(hash((body, number)))}",
        "From": number,
        "To": "+447700900000",
        "Body": body,
    }
    return twilio_post(client, INBOUND_URL, params)


@pytest.mark.parametrize("word", ["STOP", "stop", "Unsubscribe", "QUIT", "optout", "StopAll"])
def test_stop_keywords_opt_the_client_out_of_sms(client, client_obj, twilio_settings, word):
    response = inbound(client, word, str(client_obj.phone))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/xml")
    client_obj.refresh_from_db()
    assert client_obj.sms_opted_out_at is not None
    assert ConsentChange.objects.filter(client=client_obj, source="sms_keyword", granted=False).exists()


@pytest.mark.parametrize("word", ["START", "yes", "UNSTOP"])
def test_start_keywords_opt_back_in(client, client_obj, twilio_settings, word):
    inbound(client, "STOP", str(client_obj.phone))
    inbound(client, word, str(client_obj.phone))
    client_obj.refresh_from_db()
    assert client_obj.sms_opted_out_at is None
    assert client_obj.can_receive("sms")


def test_a_reply_lands_in_the_clients_conversation(client, client_obj, twilio_settings):
    inbound(client, "Running 5 min late, sorry!", str(client_obj.phone))
    reply = Message.objects.get(direction=Message.Direction.INBOUND)
    assert reply.client == client_obj
    assert reply.status == Message.Status.RECEIVED
    assert reply.body == "Running 5 min late, sorry!"
    assert reply.from_address == str(client_obj.phone)
    # Replies are never picked up by the delivery worker.
    assert deliver_due(limit=10) == 0


def test_a_reply_goes_to_the_client_we_texted_last_when_two_share_a_number(
    client, trainer, other_trainer, twilio_http
):
    mine = ClientFactory(trainer=trainer, phone="+447700911111")
    theirs = ClientFactory(trainer=other_trainer, phone="+447700911111")
    with time_machine.travel(NOON, tick=False):
        send_message(client=theirs, channel="sms", body="Hi")
        deliver_due(limit=10)
    inbound(client, "Thanks", "+447700911111")
    assert Message.objects.get(direction="in").client == theirs
    assert mine.pk != theirs.pk


def test_a_text_from_an_unknown_number_is_recorded(client, twilio_settings):
    response = inbound(client, "Who is this?", "+15005550006")
    assert response.status_code == 200
    reply = Message.objects.get(direction=Message.Direction.INBOUND)
    assert reply.client is None
    assert reply.from_address == "+15005550006"


def test_a_forged_inbound_stop_is_refused(client, client_obj, twilio_settings):
    params = {"From": str(client_obj.phone), "Body": "STOP"}
    response = client.post(INBOUND_URL, params, HTTP_X_TWILIO_SIGNATURE="forged")
    assert response.status_code == 403
    client_obj.refresh_from_db()
    assert client_obj.sms_opted_out_at is None
    assert not Message.objects.exists()


# --- anymail tracking -------------------------------------------------------------------


@pytest.fixture
def sent_email(client_obj, esp_email):
    message = send_message(client=client_obj, channel="email", subject="Hi", body="Hello")
    deliver_due(limit=10)
    message.refresh_from_db()
    assert message.provider_id
    return message


def esp_event(message, event_type, event_id="ev-1", **kw):
    event = AnymailTrackingEvent(
        event_type=event_type, message_id=message.provider_id, event_id=event_id, timestamp=NOON, **kw
    )
    tracking.send(sender=object, event=event, esp_name="Postmark")


def test_delivered_then_opened_moves_the_email_forward(sent_email):
    esp_event(sent_email, "delivered", "ev-1")
    sent_email.refresh_from_db()
    assert sent_email.status == Message.Status.DELIVERED
    esp_event(sent_email, "opened", "ev-2")
    sent_email.refresh_from_db()
    assert sent_email.status == Message.Status.READ
    # A late "delivered" does not undo the open.
    esp_event(sent_email, "delivered", "ev-3")
    sent_email.refresh_from_db()
    assert sent_email.status == Message.Status.READ


def test_the_same_event_twice_changes_nothing(sent_email, client_obj):
    esp_event(sent_email, "bounced", "ev-9", description="mailbox does not exist")
    esp_event(sent_email, "bounced", "ev-9", description="mailbox does not exist")
    assert MessageEvent.objects.filter(message=sent_email, source="esp").count() == 1
    assert ConsentChange.objects.filter(client=client_obj, source="provider").count() == 1


def test_a_bounce_fails_the_message_and_suppresses_the_address(sent_email, client_obj):
    esp_event(sent_email, "bounced", description="mailbox does not exist")
    sent_email.refresh_from_db()
    assert sent_email.status == Message.Status.FAILED
    assert "bounced" in sent_email.error
    client_obj.refresh_from_db()
    assert client_obj.email_suppressed_at is not None
    assert not client_obj.can_receive("email")


def test_a_complaint_suppresses_the_address_without_failing_the_delivered_message(sent_email, client_obj):
    esp_event(sent_email, "delivered", "ev-1")
    esp_event(sent_email, "complained", "ev-2")
    sent_email.refresh_from_db()
    assert sent_email.status == Message.Status.DELIVERED
    client_obj.refresh_from_db()
    assert "complained" in client_obj.email_suppressed_reason


def test_anymail_webhook_view_needs_its_basic_auth_secret(client, sent_email, settings, mount_esp):
    mount_esp("postmark")
    settings.ANYMAIL = {**settings.ANYMAIL, "WEBHOOK_SECRET": "hook:s3cret"}
    payload = {
        "RecordType": "Delivery",
        "MessageID": sent_email.provider_id,
        "Recipient": sent_email.to_address,
        "DeliveredAt": "2026-03-10T12:00:05Z",
        "Details": "",
        "Tag": "",
        "Metadata": {},
        "ServerID": 1,
    }
    url = "/anymail/postmark/tracking/"
    refused = client.post(url, json.dumps(payload), content_type="application/json")
    assert refused.status_code in (400, 403)
    sent_email.refresh_from_db()
    assert sent_email.status == Message.Status.SENT

    auth = "Basic " + base64.b64encode(b"hook:s3cret").decode()
    ok = client.post(url, json.dumps(payload), content_type="application/json", HTTP_AUTHORIZATION=auth)
    assert ok.status_code == 200
    sent_email.refresh_from_db()
    assert sent_email.status == Message.Status.DELIVERED


def test_a_21610_status_callback_records_the_opt_out(client, sent_sms, client_obj):
    twilio_post(client, STATUS_URL, status_params(sent_sms, "failed", ErrorCode="21610"))
    client_obj.refresh_from_db()
    assert client_obj.sms_opted_out_at is not None


def test_a_shared_key_sha256_signature_is_accepted(client, sent_sms, settings):
    settings.TWILIO_WEBHOOK_SHARED_KEY_SECRET = "shared-key-secret"
    params = status_params(sent_sms, "delivered")
    url = f"https://crm.studio.example{STATUS_URL}"
    signature = RequestValidator("shared-key-secret").compute_signature(url, params, algorithm="HMAC_SHA256")
    response = client.post(
        STATUS_URL,
        params,
        HTTP_X_TWILIO_SIGNATURE=signature,
        HTTP_X_TWILIO_WEBHOOKS_SIGNATURE_SETTINGS="key=webhooks_sharedkey_1,algorithm=HMAC_SHA256",
    )
    assert response.status_code == 204
    sent_sms.refresh_from_db()
    assert sent_sms.status == Message.Status.DELIVERED


def test_twilio_webhooks_are_closed_without_an_auth_token(client, sent_sms, settings):
    params = status_params(sent_sms, "delivered")
    settings.TWILIO_AUTH_TOKEN = ""
    signature = RequestValidator("").compute_signature(f"https://crm.studio.example{STATUS_URL}", params)
    assert client.post(STATUS_URL, params, HTTP_X_TWILIO_SIGNATURE=signature).status_code == 403


def test_anymail_webhooks_stay_locked_when_no_secret_is_configured(client, sent_email, mount_esp):
    """An unset ANYMAIL_WEBHOOK_SECRET must not mean "anyone may post bounces"."""
    mount_esp("postmark")
    payload = {
        "RecordType": "Bounce",
        "MessageID": sent_email.provider_id,
        "Email": sent_email.to_address,
        "Type": "HardBounce",
        "TypeCode": 1,
        "BouncedAt": "2026-03-10T12:00:05Z",
        "Details": "",
        "Tag": "",
        "Metadata": {},
        "ServerID": 1,
    }
    response = client.post(
        "/anymail/postmark/tracking/", json.dumps(payload), content_type="application/json"
    )
    assert response.status_code in (400, 403)
    sent_email.client.refresh_from_db()
    assert sent_email.client.email_suppressed_at is None
