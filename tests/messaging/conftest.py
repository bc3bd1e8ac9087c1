"""Fakes at the HTTP boundary only: Twilio's HTTP client and anymail's test email backend."""

import importlib
import json
from dataclasses import dataclass, field

import pytest
from django.core import mail
from django.urls import clear_url_caches
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.request_validator import RequestValidator

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
