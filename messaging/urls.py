from anymail import urls as anymail_urls
from django.conf import settings
from django.urls import URLPattern, path

from messaging import views

app_name = "messaging"

urlpatterns = [
    path("twilio/status/", views.twilio_status, name="twilio_status"),
    path("twilio/inbound/", views.twilio_inbound, name="twilio_inbound"),
]

ANYMAIL_BACKENDS = "anymail.backends."


def configured_esp(email_backend: str) -> str:
    """The anymail ESP ``EMAIL_BACKEND`` sends through ("postmark"), or "" for none."""
    if not email_backend.startswith(ANYMAIL_BACKENDS):
        return ""
    return email_backend.removeprefix(ANYMAIL_BACKENDS).partition(".")[0]


def anymail_urlpatterns(email_backend: str | None = None):
    """The tracking webhook of the ESP we send through, and no other (for ``include``).

    The other ESPs' views refuse to run without keys we do not have; inbound email
    is not a feature, so its webhooks would only swallow mail.
    """
    esp = configured_esp(settings.EMAIL_BACKEND if email_backend is None else email_backend)
    patterns = [
        URLPattern(p.pattern, views.anymail_view(p.callback.view_class), p.default_args, p.name)
        for p in anymail_urls.urlpatterns
        if esp and p.name == f"{esp}_tracking_webhook"
    ]
    return patterns, anymail_urls.app_name
