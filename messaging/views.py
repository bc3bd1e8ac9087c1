"""Webhooks and the unsubscribe page: thin, each one authenticated, each calling a service."""

import functools
import logging

from anymail.exceptions import AnymailWebhookValidationFailure
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpResponse, HttpResponseForbidden
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from clients.models import ConsentChange
from messaging import activity, webhooks
from messaging.unsubscribe import client_for_token

logger = logging.getLogger(__name__)

MALFORMED_PAYLOAD = (ValueError, TypeError, KeyError, AttributeError, IndexError, LookupError)

EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


def twilio_signed(view):
    """A Twilio webhook: POST only, no CSRF token (Twilio has none), and a valid
    ``X-Twilio-Signature`` or 403."""

    @csrf_exempt
    @require_POST
    @functools.wraps(view)
    def checked(request, *args, **kwargs):
        if not webhooks.twilio_signature_ok(request):
            return HttpResponseForbidden("bad signature")
        return view(request, *args, **kwargs)

    return checked


@twilio_signed
def twilio_status(request):
    webhooks.twilio_status_received(params=request.POST)
    return HttpResponse(status=204)


@twilio_signed
def twilio_inbound(request):
    webhooks.twilio_inbound_received(params=request.POST)
    # Twilio answers STOP/START itself; we reply nothing.
    return HttpResponse(EMPTY_TWIML, content_type="text/xml")


@csrf_exempt  # RFC 8058 one-click: mail providers POST without a session or token.
@require_http_methods(["GET", "POST"])
def unsubscribe(request, token):
    client = client_for_token(token)
    if client is None:
        return render(request, "messaging/unsubscribe_invalid.html", status=404)
    if request.method == "POST":
        # 200, never a redirect: one-click senders do not follow them.
        activity.email_unsubscribed(
            client=client,
            source=ConsentChange.Source.UNSUBSCRIBE_LINK,
            detail="one-click" if request.POST.get("List-Unsubscribe") == "One-Click" else "confirm page",
        )
        return render(request, "messaging/unsubscribe_done.html", {"client": client})
    # GET changes nothing: link scanners and previews open it too.
    return render(request, "messaging/unsubscribe_confirm.html", {"client": client, "token": token})


def anymail_view(view_class):
    """``view_class`` (an anymail webhook view) answering 400 to what it cannot read.

    Anymail parses an authenticated payload as the ESP documents it: a body that is
    not JSON, not UTF-8 or not shaped as expected raises deep in its parser, which
    Django turns into a 500 — and an ESP retries a 500 for days. Such a body is the
    sender's fault: 400, and nothing is written. Errors in our own handling of a
    well-formed event still give 500, so the ESP retries once we are back.
    """

    class View(view_class):
        def run_validators(self, request):
            try:
                super().run_validators(request)
            except MALFORMED_PAYLOAD as exc:
                raise AnymailWebhookValidationFailure(f"unreadable {self.esp_name} webhook: {exc!r}") from exc

        def parse_events(self, request):
            try:
                events = list(super().parse_events(request))
            except MALFORMED_PAYLOAD as exc:
                raise AnymailWebhookValidationFailure(f"malformed {self.esp_name} webhook: {exc!r}") from exc
            for event in events:
                # No provider writes NUL; PostgreSQL could not store or even look it up.
                if any(isinstance(v, str) and "\x00" in v for v in vars(event).values()):
                    raise AnymailWebhookValidationFailure(f"NUL character in a {self.esp_name} event")
            return events

    View.__name__ = View.__qualname__ = view_class.__name__
    inner = View.as_view()

    @functools.wraps(inner)
    def view(request, *args, **kwargs):
        try:
            return inner(request, *args, **kwargs)
        except ImproperlyConfigured as exc:
            # The ESP's webhook keys are missing (or it points at the wrong URL): locked
            # until the operator finishes, as the Twilio webhooks are without a token.
            logger.error("%s webhook refused: %s", view_class.esp_name, exc)
            return HttpResponseForbidden("webhook not configured")

    return view
