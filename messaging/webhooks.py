"""What provider callbacks mean for our messages and clients.

Views stay thin: they authenticate and hand the parameters here.
"""

import logging

from anymail.signals import tracking
from django.conf import settings
from django.db import transaction
from django.dispatch import receiver
from django.utils import timezone

from clients.models import Channel, Client, ConsentChange
from clients.services import (
    client_email_suppress,
    client_email_unsubscribe,
    client_sms_opt_in,
    client_sms_opt_out,
)
from messaging.models import Message, MessageEvent
from messaging.services import Status, message_advance_status, record_event_once

logger = logging.getLogger(__name__)

STOP_WORDS = {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"}
START_WORDS = {"START", "YES", "UNSTOP"}

# Twilio's message statuses → ours. queued/accepted/sending/scheduled tell us nothing new.
TWILIO_STATUS = {
    "sent": Status.SENT,
    "delivered": Status.DELIVERED,
    "read": Status.READ,
    "undelivered": Status.FAILED,
    "failed": Status.FAILED,
}


def twilio_signature_ok(request) -> bool:
    """Check ``X-Twilio-Signature`` against the public URL Twilio called.

    The URL is built from ``SITE_URL``, not from the request: behind a proxy or
    a TLS terminator the request's own host and scheme are not what Twilio signed.
    """
    from twilio.request_validator import RequestValidator, get_signature_algorithm

    signature = request.headers.get("X-Twilio-Signature", "")
    settings_header = request.headers.get("X-Twilio-Webhooks-Signature-Settings", "")
    secret = settings.TWILIO_AUTH_TOKEN
    if settings_header and settings.TWILIO_WEBHOOK_SHARED_KEY_SECRET:
        secret = settings.TWILIO_WEBHOOK_SHARED_KEY_SECRET
    if not signature or not secret:
        return False
    url = f"{settings.SITE_URL}{request.get_full_path()}"
    return RequestValidator(secret).validate(
        url, request.POST, signature, algorithm=get_signature_algorithm(settings_header)
    )


def twilio_status_received(*, params) -> bool:
    sid = params.get("MessageSid") or params.get("SmsSid") or ""
    twilio_status = (params.get("MessageStatus") or params.get("SmsStatus") or "").lower()
    status = TWILIO_STATUS.get(twilio_status)
    message = (
        Message.objects.filter(provider_id=sid, channel=Channel.SMS).select_related("client").first()
        if sid
        else None
    )
    if message is None:
        logger.info("Twilio status %s for unknown message %s", twilio_status, sid)
        return False
    if status is None:
        return False
    error = ""
    code = params.get("ErrorCode") or ""
    if status == Status.FAILED:
        error = f"Twilio {twilio_status}, error {code or 'unknown'}"
    changed = message_advance_status(
        message=message,
        status=status,
        source=MessageEvent.Source.TWILIO,
        detail=f"Twilio: {twilio_status}",
        error=error,
    )
    if status == Status.FAILED and code == "21610" and message.client_id:
        client_sms_opt_out(client=message.client, source=ConsentChange.Source.PROVIDER, detail="Twilio 21610")
    return changed


def _clients_for_number(number: str):
    return Client.objects.filter(phone=number) if number else Client.objects.none()


def twilio_inbound_received(*, params) -> Message:
    """Keywords change SMS consent; anything else lands in the client's conversation."""
    number = params.get("From", "")
    body = params.get("Body", "")
    sid = params.get("MessageSid") or params.get("SmsSid") or ""
    keyword = body.strip().upper().rstrip(".!")
    clients = list(_clients_for_number(number))
    with transaction.atomic():
        if keyword in STOP_WORDS:
            for client in clients:
                client_sms_opt_out(
                    client=client, source=ConsentChange.Source.SMS_KEYWORD, detail=f"texted {keyword}"
                )
        elif keyword in START_WORDS:
            for client in clients:
                client_sms_opt_in(
                    client=client, source=ConsentChange.Source.SMS_KEYWORD, detail=f"texted {keyword}"
                )
        # The same number may belong to clients of several trainers: the reply
        # goes to the one we texted last.
        client = _replied_to(number, clients)
        if client is None and number:
            logger.warning("SMS from unknown number %s recorded without a client", number)
        if sid:
            existing = Message.objects.filter(provider_id=sid, direction=Message.Direction.INBOUND).first()
            if existing:  # Twilio retried the webhook
                return existing
        now = timezone.now()
        return Message.objects.create(
            client=client,
            channel=Channel.SMS,
            direction=Message.Direction.INBOUND,
            status=Status.RECEIVED,
            body=body,
            provider_id=sid,
            from_address=number,
            to_address=params.get("To", ""),
            sent_at=now,
            delivered_at=now,
        )


def _replied_to(number, clients):
    if len(clients) <= 1:
        return clients[0] if clients else None
    last = (
        Message.objects.filter(
            client__in=clients,
            channel=Channel.SMS,
            direction=Message.Direction.OUTBOUND,
            sent_at__isnull=False,
        )
        .order_by("-sent_at")
        .values_list("client_id", flat=True)
        .first()
    )
    return next((c for c in clients if c.pk == last), clients[0])


# anymail event_type → what it means here.
ESP_ADVANCE = {
    "delivered": Status.DELIVERED,
    "opened": Status.READ,
    "clicked": Status.READ,
}
ESP_FAIL = {"bounced", "rejected", "failed"}
ESP_SUPPRESS = {"bounced", "complained"}


@receiver(tracking, dispatch_uid="messaging.anymail_tracking")
def anymail_tracking_received(sender, event, esp_name, **kwargs):
    esp_event_applied(event=event, esp_name=esp_name)


def esp_event_applied(*, event, esp_name: str) -> bool:
    """Apply one anymail tracking event; the same ``event_id`` twice changes nothing."""
    if not event.message_id:
        return False
    message = (
        Message.objects.filter(provider_id=str(event.message_id), channel=Channel.EMAIL)
        .select_related("client")
        .first()
    )
    if message is None:
        logger.info("%s %s event for unknown message %s", esp_name, event.event_type, event.message_id)
        return False
    event_id = f"{esp_name}:{event.event_id}" if event.event_id else ""
    if not event_id:
        # Some ESPs omit ids; the event's own facts identify a retry well enough.
        event_id = f"{esp_name}:{event.message_id}:{event.event_type}:{event.timestamp or ''}"
    detail = f"{esp_name}: {event.event_type}"
    if event.description or event.mta_response:
        detail += f" ({event.description or event.mta_response})"
    kind = event.event_type
    with transaction.atomic():
        if (
            record_event_once(
                message=message, status=kind, source=MessageEvent.Source.ESP, detail=detail, event_id=event_id
            )
            is None
        ):
            return False  # the ESP retried its webhook
        changed = False
        if kind in ESP_ADVANCE:
            changed = message_advance_status(
                message=message, status=ESP_ADVANCE[kind], source=MessageEvent.Source.ESP, record=False
            )
        elif kind in ESP_FAIL:
            # A bounce can follow "delivered": the receiving server accepted, then gave up.
            changed = message_advance_status(
                message=message,
                status=Status.FAILED,
                source=MessageEvent.Source.ESP,
                error=detail,
                also_from=(Status.DELIVERED,),
                record=False,
            )
        if kind in ESP_SUPPRESS and message.client_id:
            client_email_suppress(client=message.client, reason=f"{kind} ({esp_name})")
        elif kind == "unsubscribed" and message.client_id:
            client_email_unsubscribe(
                client=message.client, source=ConsentChange.Source.PROVIDER, detail=esp_name
            )
    return changed
