"""Fakes at the HTTP boundary only: Twilio's HTTP client, the ESP's HTTP API (or anymail's
test email backend), and the errors requests raises on the wire."""

import importlib
import json
import socket
from dataclasses import dataclass, field
from http.client import RemoteDisconnected

import pytest
import requests
from django.core import mail
from django.urls import clear_url_caches
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.request_validator import RequestValidator
from urllib3.exceptions import ConnectTimeoutError, MaxRetryError, NameResolutionError, ProtocolError

TWILIO_SID = "AC" + "0" * 32
TWILIO_TOKEN = "test-auth-token"
SITE_URL = "https://crm.studio.example"


@pytest.fixture
def esp_email(settings):
    """anymail's test backend: messages land in mail.outbox with an ESP message id."""
    settings.EMAIL_BACKEND = "anymail.backends.test.EmailBackend"
    mail.outbox = []
    return mail.outbox


@pytest.fixture
def twilio_settings(settings):
    settings.TWILIO_ACCOUNT_SID = TWILIO_SID
    settings.TWILIO_AUTH_TOKEN = TWILIO_TOKEN
    settings.TWILIO_FROM_NUMBER = "+447700900000"
    settings.SITE_URL = SITE_URL
    return settings


def twilio_post(client, path, params, *, token=TWILIO_TOKEN, site=SITE_URL, **headers):
    """POST ``params`` signed as Twilio signs a webhook to ``site`` + ``path``."""
    signature = RequestValidator(token).compute_signature(f"{site}{path}", params)
    return client.post(path, params, HTTP_X_TWILIO_SIGNATURE=signature, **headers)


def twilio_message_json(sid="SM" + "1" * 32, status="queued"):
    return json.dumps({"sid": sid, "status": status, "body": "", "error_code": None})


def twilio_error_json(status, code, message="error"):
    return json.dumps({"status": status, "code": code, "message": message, "more_info": ""})


@dataclass
class FakeTwilioHttp:
    """Stands in for the wire: records each request, answers from a script."""

    script: list = field(default_factory=list)
    requests: list = field(default_factory=list)
    sid_counter: int = 0

    def reply(self, status_code, text):
        self.script.append((status_code, text))

    def fail_with(self, exc):
        self.script.append(exc)

    def __call__(
        self, client, method, url, params=None, data=None, headers=None, auth=None, timeout=None, **kw
    ):
        self.requests.append(
            {"method": method, "url": url, "data": data, "timeout": timeout or client.timeout}
        )
        if self.script:
            step = self.script.pop(0)
            if isinstance(step, BaseException):
                raise step
            return Response(*step)
        self.sid_counter += 1
        return Response(201, twilio_message_json(sid=f"SM{self.sid_counter:032d}"))


@pytest.fixture
def twilio_http(twilio_settings, monkeypatch):
    fake = FakeTwilioHttp()

    def request(self, method, url, params=None, data=None, headers=None, auth=None, timeout=None, **kwargs):
        return fake(self, method, url, params=params, data=data, headers=headers, auth=auth, timeout=timeout)

    monkeypatch.setattr(TwilioHttpClient, "request", request)
    return fake


@pytest.fixture
def mount_esp(settings):
    """Rebuild the URLconf as if ``EMAIL_BACKEND`` named this anymail ESP (``None``: SMTP)
    when the server started."""
    original = settings.EMAIL_BACKEND

    def mount(esp):
        settings.EMAIL_BACKEND = (
            f"anymail.backends.{esp}.EmailBackend" if esp else "django.core.mail.backends.smtp.EmailBackend"
        )
        _reload_urlconf()

    yield mount
    settings.EMAIL_BACKEND = original
    _reload_urlconf()


def _reload_urlconf():
    import fitcrm.urls

    importlib.reload(fitcrm.urls)
    clear_url_caches()


# --- Failures on the wire: the errors requests really raises ----------------------------


def _post(url, timeout):
    # Session.send, not Session.request: the ESP fake replaces the latter.
    prepared = requests.Request("POST", url, data={"x": "1"}).prepare()
    with requests.Session() as session:
        session.send(prepared, timeout=timeout)


def connection_refused() -> requests.RequestException:
    """What requests raises when nothing listens: the request never left."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    try:
        _post(f"http://127.0.0.1:{port}/", timeout=5)
    except requests.RequestException as exc:
        return exc
    raise AssertionError("a closed port accepted a connection")


def read_timeout() -> requests.RequestException:
    """What requests raises when the server took the request and never answered."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)  # the kernel completes the handshake; nobody ever reads
        try:
            _post(f"http://127.0.0.1:{server.getsockname()[1]}/", timeout=0.05)
        except requests.RequestException as exc:
            return exc
    raise AssertionError("a silent server answered")


def dns_failure() -> requests.RequestException:
    # Built by hand, as requests builds it: a real lookup would depend on the resolver.
    reason = NameResolutionError("api.twilio.com", None, socket.gaierror(-2, "Name or service not known"))
    return requests.ConnectionError(MaxRetryError(None, "https://api.twilio.com/", reason))


def connect_timeout() -> requests.RequestException:
    reason = ConnectTimeoutError(None, "Connection to api.twilio.com timed out. (connect timeout=10)")
    return requests.ConnectTimeout(MaxRetryError(None, "https://api.twilio.com/", reason))


def connection_dropped() -> requests.RequestException:
    """The server closed the connection after the request went out, before answering."""
    return requests.ConnectionError(
        ProtocolError(
            "Connection aborted.", RemoteDisconnected("Remote end closed connection without response")
        )
    )


# --- The ESP's HTTP API (Postmark through anymail's requests backend) --------------------


def postmark_sent(to, message_id="0a129aee-e1cd-480d-b08d-4f48548ff48d"):
    return {
        "To": to,
        "SubmittedAt": "2026-03-10T12:00:00Z",
        "MessageID": message_id,
        "ErrorCode": 0,
        "Message": "OK",
    }


def postmark_inactive(to):
    return {
        "ErrorCode": 406,
        "Message": (
            "You tried to send to recipient(s) that have been marked as inactive.\n"
            f"Found inactive addresses: {to}.\n"
            "Inactive recipients are ones that have generated a hard bounce, a spam complaint, "
            "or a manual suppression. "
        ),
    }


@dataclass
class FakeEspHttp:
    """Stands in for Postmark's API on the wire: records each request, answers from a script."""

    script: list = field(default_factory=list)
    requests: list = field(default_factory=list)

    def reply(self, status_code, body):
        self.script.append((status_code, body))

    def fail_with(self, exc):
        self.script.append(exc)

    def __call__(self, method, url, data=None, headers=None, timeout=None, **kwargs):
        payload = json.loads(data) if data else {}
        self.requests.append({"method": method, "url": url, "json": payload, "timeout": timeout})
        if self.script:
            step = self.script.pop(0)
            if isinstance(step, BaseException):
                raise step
            status_code, body = step
        else:
            status_code, body = 200, postmark_sent(payload.get("To", ""), f"pm-{len(self.requests)}")
        response = requests.Response()
        response.status_code, response.reason, response.url = status_code, "", url
        response._content = json.dumps(body).encode()
        response.headers["Content-Type"] = "application/json"
        response.encoding = "utf-8"
        return response


@pytest.fixture
def esp_http(settings, monkeypatch):
    """Email goes out through anymail's real Postmark backend; only the HTTP call is fake."""
    settings.EMAIL_BACKEND = "anymail.backends.postmark.EmailBackend"
    settings.ANYMAIL = {**settings.ANYMAIL, "POSTMARK_SERVER_TOKEN": "test-server-token"}
    fake = FakeEspHttp()

    def request(self, method, url, **kwargs):
        return fake(method, url, **kwargs)

    monkeypatch.setattr(requests.Session, "request", request)
    return fake
