"""Properties of the webhook parsers: whatever an authenticated sender posts, the answer is
never a 500 or an unhandled exception.

Twilio requests are signed with Twilio's own RequestValidator; Postmark events carry the
basic-auth secret. Each example runs in a savepoint that is rolled back, so examples do
not see each other's rows.
"""

import base64
import json
from urllib.parse import urlencode

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from messaging.models import Message
from tests.messaging.conftest import twilio_post

pytestmark = pytest.mark.django_db

PROPERTY = settings(
    max_examples=60,
    deadline=None,
    database=None,  # nothing written into the work tree; a failure prints its example
    # The Django test client and settings fixtures are reused across examples on purpose.
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

INBOUND_URL = "/messaging/twilio/inbound/"
STATUS_URL = "/messaging/twilio/status/"
SECRET = "hook:s3cret"
AUTH = "Basic " + base64.b64encode(SECRET.encode()).decode()

# Anything a form field can carry (surrogates cannot be sent as UTF-8), NUL and long values included.
text = st.text(st.characters(exclude_categories=("Cs",)), max_size=40)
long_text = st.one_of(text, st.text(st.characters(exclude_categories=("Cs",)), min_size=90, max_size=400))
sid = st.one_of(st.just("SM" + "a" * 32), st.just("SM" + "b" * 32), long_text)
phone = st.one_of(st.just("+447700911111"), st.just("+15005550006"), long_text)
twilio_fields = st.fixed_dictionaries(
    {},
    optional={
        "MessageSid": sid,
        "SmsSid": sid,
        "AccountSid": text,
        "From": phone,
        "To": phone,
        "Body": st.one_of(st.sampled_from(["STOP", "start", "Hi!", ""]), long_text),
        "NumMedia": st.one_of(st.sampled_from(["0", "1", "12"]), text),
        "MessageStatus": st.one_of(st.sampled_from(["delivered", "failed", "undelivered", "sent"]), text),
        "SmsStatus": text,
        "ErrorCode": st.one_of(st.sampled_from(["21610", "30003"]), text),
    },
)
extra_fields = st.dictionaries(st.from_regex(r"\A[A-Za-z][A-Za-z0-9]{0,15}\Z"), text, max_size=3)


def in_rollback(check):
    with transaction.atomic():
        check()
        transaction.set_rollback(True)


def signed_form_post(client, path, params):
    """POST as Twilio does: url-encoded, signed over SITE_URL + path."""
    from twilio.request_validator import RequestValidator

    from tests.messaging.conftest import SITE_URL, TWILIO_TOKEN

    signature = RequestValidator(TWILIO_TOKEN).compute_signature(f"{SITE_URL}{path}", params)
    return client.post(
        path,
        urlencode(params),
        content_type="application/x-www-form-urlencoded",
        HTTP_X_TWILIO_SIGNATURE=signature,
    )


@PROPERTY
@given(fields=twilio_fields, extra=extra_fields)
def test_any_signed_inbound_sms_is_stored_once_with_a_readable_body(
    client, client_obj, twilio_settings, fields, extra
):
    params = {**extra, **fields}

    def check():
        before = Message.objects.filter(direction="in").count()
        for _ in range(2):  # and Twilio's retry of it
            response = signed_form_post(client, INBOUND_URL, params)
            assert response.status_code == 200
        rows = list(Message.objects.filter(direction="in").order_by("-pk"))
        has_sid = any(params.get(k, "").replace("\x00", "") for k in ("MessageSid", "SmsSid"))
        assert len(rows) - before == (1 if has_sid else 2)
        stored = rows[0]
        assert "\x00" not in stored.body + stored.from_address + stored.to_address + stored.provider_id
        assert stored.body.strip()
        assert len(stored.provider_id) <= 100

    in_rollback(check)


@PROPERTY
@given(fields=twilio_fields, extra=extra_fields)
def test_any_signed_status_callback_is_answered_204(client, twilio_settings, fields, extra):
    params = {**extra, **fields}
    in_rollback(lambda: _assert_status(signed_form_post(client, STATUS_URL, params), {204}))


def test_the_signed_helper_signs_like_the_suites_own(client, client_obj, twilio_settings):
    # Guards the property above: an unsigned-looking 403 would make it vacuous.
    assert signed_form_post(client, INBOUND_URL, {"Body": "hi"}).status_code == 200
    assert twilio_post(client, INBOUND_URL, {"Body": "hi"}).status_code == 200
    assert Message.objects.filter(direction="in").count() == 2


# --- Postmark -----------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | text,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(text, children, max_size=4),
    max_leaves=12,
)
postmark_events = st.fixed_dictionaries(
    {
        "RecordType": st.one_of(
            st.sampled_from(["Bounce", "Delivery", "Open", "Click", "SpamComplaint"]), json_values
        )
    },
    optional={
        "MessageID": st.one_of(st.just("pm-known"), text, json_values),
        "Type": st.one_of(st.sampled_from(["HardBounce", "SoftBounce", "Transient", "Unknown"]), json_values),
        "TypeCode": json_values,
        "Email": st.one_of(st.just("pat@example.com"), json_values),
        "Recipient": json_values,
        "BouncedAt": st.one_of(st.just("2026-03-10T12:00:05Z"), json_values),
        "DeliveredAt": st.one_of(st.just("2026-03-10T12:00:05Z"), text, json_values),
        "ReceivedAt": json_values,
        "Details": json_values,
        "Description": json_values,
        "ID": json_values,
        "Metadata": json_values,
        "Tag": json_values,
        "OriginalLink": json_values,
        "Geo": json_values,
        "Client": json_values,
        "OS": json_values,
        "Platform": json_values,
        "UserAgent": json_values,
    },
)
postmark_bodies = st.one_of(
    postmark_events.map(lambda e: json.dumps(e).encode()),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.binary(max_size=200),
)


@pytest.fixture
def postmark(mount_esp, settings, client_obj):
    settings.ANYMAIL = {**settings.ANYMAIL, "WEBHOOK_SECRET": SECRET}
    mount_esp("postmark")
    Message.objects.create(
        client=client_obj,
        channel="email",
        status="sent",
        body="Hi",
        provider_id="pm-known",
        to_address="pat@example.com",
    )


@PROPERTY
@given(body=postmark_bodies)
def test_any_authenticated_postmark_body_is_applied_or_refused_never_a_500(client, postmark, body):
    def check():
        response = client.post(
            "/anymail/postmark/tracking/", body, content_type="application/json", HTTP_AUTHORIZATION=AUTH
        )
        _assert_status(response, {200, 400})

    in_rollback(check)


def _assert_status(response, allowed):
    assert response.status_code in allowed, (response.status_code, response.content[:200])
