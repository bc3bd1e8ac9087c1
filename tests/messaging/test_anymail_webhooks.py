"""anymail's webhooks as mounted here: only the ESP we send through, and never a 500."""

import base64
import json

import pytest
from anymail import urls as anymail_urls
from django.urls import get_resolver

from clients.models import ConsentChange
from messaging.models import MessageEvent
from messaging.services import deliver_due, send_message
from messaging.urls import anymail_urlpatterns, configured_esp

pytestmark = pytest.mark.django_db

SECRET = "hook:s3cret"
AUTH = "Basic " + base64.b64encode(SECRET.encode()).decode()
SUFFIXES = ("_tracking_webhook", "_inbound_webhook", "_webhook")
# Every ESP anymail has webhooks for, by its backend's module name.
ESPS = sorted(
    {next(p.name.removesuffix(s) for s in SUFFIXES if p.name.endswith(s)) for p in anymail_urls.urlpatterns}
)
GARBAGE = [
    (b"", "application/json"),
    (b"{not json", "application/json"),
    (b"\xff\xfe\xfd", "application/json"),
    (b"[]", "application/json"),
    (b"null", "application/json"),
    (b'{"RecordType": "Bounce", "MessageID": "x\\u0000y"}', "application/json"),
    (b"a=1&b=%00&signature=x&timestamp=y&token=z", "application/x-www-form-urlencoded"),
    (b"\xff\xfe", "application/x-www-form-urlencoded"),
    (
        b'--x\r\nContent-Disposition: form-data; name="a"\r\n\r\n\xff\r\n--x--',
        "multipart/form-data; boundary=x",
    ),
    (b"hello", "text/plain"),
]


def mounted_anymail_paths():
    resolver = get_resolver()
    (anymail,) = [p for p in resolver.url_patterns if str(p.pattern) == "anymail/"]
    return [f"/anymail/{str(p.pattern).strip('^$').replace('(_mime)?', '')}" for p in anymail.url_patterns]


def test_the_esp_is_read_from_email_backend():
    assert configured_esp("anymail.backends.postmark.EmailBackend") == "postmark"
    assert configured_esp("anymail.backends.amazon_ses.EmailBackend") == "amazon_ses"
    assert configured_esp("django.core.mail.backends.smtp.EmailBackend") == ""
    assert anymail_urlpatterns("django.core.mail.backends.console.EmailBackend") == ([], "anymail")
    names = [p.name for p in anymail_urlpatterns("anymail.backends.postmark.EmailBackend")[0]]
    assert names == ["postmark_tracking_webhook"]


def test_without_an_anymail_backend_no_webhook_is_mounted(client, mount_esp):
    mount_esp(None)
    assert mounted_anymail_paths() == []
    assert (
        client.post("/anymail/postmark/tracking/", b"{}", content_type="application/json").status_code == 404
    )


@pytest.mark.parametrize("url", ["/anymail/mailgun/tracking/", "/anymail/amazon_ses/tracking/"])
def test_other_esps_webhooks_are_not_mounted(client, mount_esp, url):
    mount_esp("postmark")
    assert client.post(url, b"garbage", content_type="application/json").status_code == 404


@pytest.mark.parametrize("esp", ESPS)
def test_every_mounted_anymail_url_answers_4xx_to_anonymous_garbage(client, mount_esp, settings, esp):
    # Only the basic-auth secret: an ESP whose webhooks need more (a signing key) is
    # as an operator half-way through setting it up leaves it.
    settings.ANYMAIL = {"WEBHOOK_SECRET": SECRET}
    mount_esp(esp)
    (path,) = mounted_anymail_paths()
    assert path == f"/anymail/{esp}/tracking/"
    for body, content_type in GARBAGE:
        response = client.post(path, body, content_type=content_type)
        assert 400 <= response.status_code < 500, (path, body, response.status_code)
    assert 400 <= client.get(path).status_code < 500
    assert not MessageEvent.objects.exists()


@pytest.mark.parametrize("esp", ESPS)
def test_authenticated_garbage_is_never_a_500_and_writes_nothing(client, mount_esp, settings, esp):
    settings.ANYMAIL = {"WEBHOOK_SECRET": SECRET}
    mount_esp(esp)
    (path,) = mounted_anymail_paths()
    for body, content_type in GARBAGE:
        response = client.post(path, body, content_type=content_type, HTTP_AUTHORIZATION=AUTH)
        # 200 only for a well-formed list of no events (SendGrid's "[]").
        assert response.status_code in (200, 400, 403), (path, body, response.status_code)
    assert not MessageEvent.objects.exists()
    assert not ConsentChange.objects.exists()


# --- Postmark, authenticated, with bodies it cannot read --------------------------------


@pytest.fixture
def postmark(mount_esp, settings):
    settings.ANYMAIL = {**settings.ANYMAIL, "WEBHOOK_SECRET": SECRET}
    mount_esp("postmark")


@pytest.fixture
def sent_email(client_obj, esp_email):
    message = send_message(client=client_obj, channel="email", subject="Hi", body="Hello")
    deliver_due(limit=10)
    message.refresh_from_db()
    return message


def postmark_post(client, body, content_type="application/json"):
    return client.post(
        "/anymail/postmark/tracking/", body, content_type=content_type, HTTP_AUTHORIZATION=AUTH
    )


def bounce(message_id):
    return {
        "RecordType": "Bounce",
        "MessageID": message_id,
        "Email": "x@example.com",
        "Type": "HardBounce",
        "TypeCode": 1,
        "BouncedAt": "2026-03-10T12:00:05Z",
        "ID": 42,
    }


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"\xff\xfe\xfd",
        b"[]",
        b'[{"RecordType": "Bounce"}]',
        b'"just a string"',
        b'{"RecordType": "Bounce", "BouncedAt": 5}',
        json.dumps(bounce("abc\x00def")).encode(),
    ],
    ids=["not-json", "not-utf8", "array", "array-of-events", "string", "wrong-types", "nul-message-id"],
)
def test_a_postmark_event_it_cannot_read_is_a_400_and_writes_nothing(
    client, postmark, sent_email, client_obj, body
):
    events = MessageEvent.objects.count()
    assert postmark_post(client, body).status_code == 400
    assert MessageEvent.objects.count() == events
    client_obj.refresh_from_db()
    assert client_obj.email_suppressed_at is None
    assert not ConsentChange.objects.filter(client=client_obj, source="provider").exists()


def test_a_well_formed_postmark_bounce_still_suppresses(client, postmark, sent_email, client_obj):
    assert postmark_post(client, json.dumps(bounce(sent_email.provider_id))).status_code == 200
    client_obj.refresh_from_db()
    assert client_obj.email_suppressed_at is not None
