"""Incoming SMS: one row per Twilio message, however often or oddly Twilio (or anyone with
the token) posts it."""

import threading

import pytest
from django.test import Client as HttpClient

from clients.models import ConsentChange
from messaging import webhooks
from messaging.models import Message
from tests.factories import ClientFactory
from tests.messaging.conftest import twilio_post
from tests.support.threads import run_in_threads

INBOUND_URL = "/messaging/twilio/inbound/"
STATUS_URL = "/messaging/twilio/status/"
SID = "SM" + "a" * 32


def sms(body="Running late", number="+447700911111", sid=SID, **extra):
    return {
        "MessageSid": sid,
        "AccountSid": "AC1",
        "From": number,
        "To": "+447700900000",
        "Body": body,
        **extra,
    }


def inbound_rows():
    return Message.objects.filter(direction=Message.Direction.INBOUND)


# --- Twilio retries: the same MessageSid is one message ---------------------------------


@pytest.mark.django_db
def test_a_retried_inbound_sms_is_stored_once(client, twilio_settings):
    for _ in range(3):
        assert twilio_post(client, INBOUND_URL, sms()).status_code == 200
    assert inbound_rows().count() == 1


@pytest.mark.django_db
def test_a_retried_stop_records_the_opt_out_once(client, twilio_settings):
    customer = ClientFactory(phone="+447700911111")
    for _ in range(2):
        twilio_post(client, INBOUND_URL, sms(body="STOP"))
    assert ConsentChange.objects.filter(client=customer, source="sms_keyword").count() == 1


@pytest.mark.django_db
def test_the_database_refuses_a_second_inbound_row_with_the_same_sid(twilio_settings):
    from django.db import IntegrityError, transaction

    Message.objects.create(channel="sms", direction="in", status="received", body="a", provider_id=SID)
    with pytest.raises(IntegrityError), transaction.atomic():
        Message.objects.create(channel="sms", direction="in", status="received", body="b", provider_id=SID)
    # Outbound rows and inbound rows without an id are not concerned.
    Message.objects.create(channel="sms", direction="out", body="c", provider_id=SID)
    Message.objects.create(channel="sms", direction="in", status="received", body="d", provider_id="")
    Message.objects.create(channel="sms", direction="in", status="received", body="e", provider_id="")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_identical_inbound_posts_store_one_message(twilio_settings, monkeypatch):
    """Ten signed copies of one SMS at once (Twilio retrying while we are slow)."""
    ClientFactory(phone="+447700911111")
    count = 10
    # Hold every request just before it writes, until all ten have read: the widest
    # window a check-then-insert could ever have.
    line_up = threading.Barrier(count)
    real_replied_to = webhooks._replied_to

    def replied_to_then_wait(*args, **kwargs):
        result = real_replied_to(*args, **kwargs)
        line_up.wait(timeout=10)
        return result

    monkeypatch.setattr(webhooks, "_replied_to", replied_to_then_wait)
    statuses = []

    def post():
        statuses.append(twilio_post(HttpClient(), INBOUND_URL, sms(body="STOP")).status_code)

    run_in_threads(post, count=count)
    assert statuses == [200] * count
    assert inbound_rows().count() == 1
    assert ConsentChange.objects.filter(source="sms_keyword").count() == 1


# --- Odd fields: normalised, never a 500, never a lost message --------------------------


@pytest.mark.django_db
def test_nul_characters_are_dropped_and_the_text_kept(client, twilio_settings):
    response = twilio_post(client, INBOUND_URL, sms(body="See you\x00 at 6\x00", number="+4477009\x0011111"))
    assert response.status_code == 200
    (reply,) = inbound_rows()
    assert reply.body == "See you at 6"
    assert reply.from_address == "+447700911111"


@pytest.mark.django_db
def test_a_retry_of_a_message_with_nul_characters_is_still_one_message(client, twilio_settings):
    for _ in range(2):
        twilio_post(client, INBOUND_URL, sms(body="hi\x00", sid=SID + "\x00"))
    assert inbound_rows().count() == 1


@pytest.mark.django_db
def test_an_over_long_message_sid_keeps_the_message_and_still_dedupes(client, twilio_settings):
    long_sid = "SM" + "b" * 300
    other_long_sid = "SM" + "b" * 299 + "c"  # same first 100 characters
    for sid in (long_sid, long_sid, other_long_sid):
        assert twilio_post(client, INBOUND_URL, sms(sid=sid)).status_code == 200
    rows = list(inbound_rows().order_by("pk"))
    assert len(rows) == 2
    assert all(len(r.provider_id) <= 100 for r in rows)
    assert rows[0].provider_id != rows[1].provider_id
    assert rows[0].provider_id.startswith("SMbbbb")


@pytest.mark.django_db
def test_an_over_long_from_keeps_the_message_without_a_client(client, twilio_settings):
    ClientFactory(phone="+447700911111")
    response = twilio_post(client, INBOUND_URL, sms(number="+447700911111" + "9" * 300))
    assert response.status_code == 200
    (reply,) = inbound_rows()
    assert reply.client is None
    assert reply.body == "Running late"
    assert len(reply.from_address) <= 254


@pytest.mark.django_db
@pytest.mark.parametrize(
    "params",
    [
        {"Body": "", "NumMedia": "1", "MediaUrl0": "https://api.twilio.com/x"},
        {"Body": "\x00\x00"},
        {"Body": "   "},
    ],
    ids=["picture-only", "only-nul", "blank"],
)
def test_a_message_without_text_is_kept_with_a_readable_body(client, twilio_settings, params):
    assert twilio_post(client, INBOUND_URL, sms(**params)).status_code == 200
    (reply,) = inbound_rows()
    assert reply.body.startswith("(")


@pytest.mark.django_db
def test_a_message_without_a_sender_or_sid_is_still_kept(client, twilio_settings):
    assert twilio_post(client, INBOUND_URL, {"Body": "hello"}).status_code == 200
    (reply,) = inbound_rows()
    assert (reply.body, reply.from_address, reply.provider_id, reply.client) == ("hello", "", "", None)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "params",
    [
        {"MessageSid": "SM\x00x", "MessageStatus": "delivered"},
        {"MessageSid": "SM" + "x" * 300, "MessageStatus": "delivered\x00"},
        {"MessageSid": SID, "MessageStatus": "failed", "ErrorCode": "\x00" * 5},
    ],
    ids=["nul-sid", "long-sid", "nul-error-code"],
)
def test_odd_status_callbacks_are_accepted_and_change_nothing(client, twilio_settings, params):
    assert twilio_post(client, STATUS_URL, params).status_code == 204
