"""Webhooks and the unsubscribe page: thin, each one authenticated, each calling a service."""

from django.http import HttpResponse, HttpResponseForbidden
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from clients.models import ConsentChange
from clients.services import client_email_unsubscribe
from messaging import webhooks
from messaging.unsubscribe import client_for_token

EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


@csrf_exempt
@require_POST
def twilio_status(request):
    if not webhooks.twilio_signature_ok(request):
        return HttpResponseForbidden("bad signature")
    webhooks.twilio_status_received(params=request.POST)
    return HttpResponse(status=204)


@csrf_exempt
@require_POST
def twilio_inbound(request):
    if not webhooks.twilio_signature_ok(request):
        return HttpResponseForbidden("bad signature")
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
        client_email_unsubscribe(
            client=client,
            source=ConsentChange.Source.UNSUBSCRIBE_LINK,
            detail="one-click" if request.POST.get("List-Unsubscribe") == "One-Click" else "confirm page",
        )
        return render(request, "messaging/unsubscribe_done.html", {"client": client})
    # GET changes nothing: link scanners and previews open it too.
    return render(request, "messaging/unsubscribe_confirm.html", {"client": client, "token": token})
