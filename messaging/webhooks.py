"""What provider callbacks mean for our messages and clients.

Views stay thin: they authenticate and hand the parameters here.
"""

import hashlib
import logging

from anymail.signals import tracking
from django.conf import settings
from django.db import IntegrityError, transaction
from django.dispatch import receiver
from django.utils import timezone

from clients.models import Channel, Client, ConsentChange
from clients.services import (
    client_email_suppress,
    client_sms_opt_in,
    client_sms_opt_out,
)
from messaging.activity import client_replied, email_unsubscribed, record_client_activity
from messaging.models import ClientActivity, Message, MessageEvent
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


# Twilio's own SIDs are 34 characters; these bound what a signed request may still carry.
PROVIDER_ID_MAX = Message._meta.get_field("provider_id").max_length
ADDRESS_MAX = Message._meta.get_field("from_address").max_length


def clean_text(value) -> str:
    """A provider's field as we can store it: PostgreSQL refuses NUL in text."""
    return str(value or "").replace("\x00", "")


def fit_provider_id(raw: str) -> str:
    """``raw`` as a ``provider_id``: unchanged when it fits, else its start and a digest.

    The same long id always maps to the same value, so a retried webhook is still
    recognised, and two long ids that share their first 100 characters stay apart.
    """
    raw = clean_text(raw)
    if len(raw) <= PROVIDER_ID_MAX:
        return raw
    digest = hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest()[:32]
    return f"{raw[: PROVIDER_ID_MAX - len(digest) - 1]}~{digest}"


def twilio_status_received(*, params) -> bool:
    sid = fit_provider_id(params.get("MessageSid") or params.get("SmsSid") or "")
    twilio_status = clean_text(params.get("MessageStatus") or params.get("SmsStatus")).lower()
    status = TWILIO_STATUS.get(twilio_status)
    message = (
        Message.objects.filter(provider_id=sid, channel=Channel.SMS).select_related("client").first()
        if sid
        else None
    )
    if message is None:
        logger.info("Twilio status %r for unknown message %r", twilio_status[:40], sid)
        return False
    if status is None:
        return False
    error = ""
    code = clean_text(params.get("ErrorCode"))[:20]
    if status == Status.FAILED:
        error = f"Twilio {twilio_status}, error {code or 'unknown'}"
    changed = message_advance_status(
        message=message,
        status=status,
        source=MessageEvent.Source.TWILIO,
        detail=f"Twilio: {twilio_status}",
        error=error,
    )
    if status == Status.FAILED and changed and message.client_id and message.direction == "out":
        record_client_activity(
            client=message.client, kind=ClientActivity.Kind.MESSAGE_FAILED, detail=error, message=message
        )
    if status == Status.FAILED and code == "21610" and message.client_id:
        client_sms_opt_out(client=message.client, source=ConsentChange.Source.PROVIDER, detail="Twilio 21610")
    return changed


def _clients_for_number(number: str):
    return Client.objects.filter(phone=number) if number else Client.objects.none()


def _readable_body(params) -> str:
    body = clean_text(params.get("Body"))
    if body.strip():
        return body
    media = clean_text(params.get("NumMedia")).strip()
    if media.isdigit() and int(media) > 0:
        return f"(picture message with {int(media)} attachment(s), not shown here: see Twilio's log)"
    return "(empty message)"


def twilio_inbound_received(*, params) -> Message:
    """Keywords change SMS consent; anything else lands in the client's conversation.

    Odd fields never cost the client's message: NUL characters are dropped, an
    over-long ``MessageSid`` is shortened by :func:`fit_provider_id`, and a ``From``
    too long to be a phone number is cut to fit and matches no client.
    Twilio retries a webhook it thinks failed, sometimes while the first call is
    still running: the unique (channel, provider_id) constraint on inbound rows
    keeps one message, and only the request that stored it acts on a keyword.
    """
    number = clean_text(params.get("From")).strip()
    if len(number) > ADDRESS_MAX:
        number = number[:ADDRESS_MAX]
        clients = []
    else:
        clients = list(_clients_for_number(number))
    body = _readable_body(params)
    sid = fit_provider_id(params.get("MessageSid") or params.get("SmsSid") or "")
    keyword = body.strip().upper().rstrip(".!")
    with transaction.atomic():
        # The same number may belong to clients of several trainers: the reply
        # goes to the one we texted last.
        client = _replied_to(number, clients)
        if client is None and number:
            logger.warning("SMS from unknown number %r recorded without a client", number[:40])
        now = timezone.now()
        try:
            with transaction.atomic():
                message = Message.objects.create(
                    client=client,
                    channel=Channel.SMS,
                    direction=Message.Direction.INBOUND,
                    status=Status.RECEIVED,
                    body=body,
                    provider_id=sid,
                    from_address=number,
                    to_address=clean_text(params.get("To"))[:ADDRESS_MAX],
                    sent_at=now,
                    delivered_at=now,
                )
        except IntegrityError:
            if not sid:
                raise
            # Twilio retried the webhook: the first request stored it (and acted on it).
            return Message.objects.get(
                channel=Channel.SMS, direction=Message.Direction.INBOUND, provider_id=sid
            )
        if keyword in STOP_WORDS:
            for each in clients:
                client_sms_opt_out(
                    client=each, source=ConsentChange.Source.SMS_KEYWORD, detail=f"texted {keyword}"
                )
                record_client_activity(
                    client=each, kind=ClientActivity.Kind.SMS_OPTED_OUT, detail=f"texted {keyword}"
                )
        elif keyword in START_WORDS:
            for each in clients:
                client_sms_opt_in(
                    client=each, source=ConsentChange.Source.SMS_KEYWORD, detail=f"texted {keyword}"
                )
                record_client_activity(
                    client=each, kind=ClientActivity.Kind.SMS_OPTED_IN, detail=f"texted {keyword}"
                )
        else:
            client_replied(message=message)
    return message


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
        if kind in ESP_FAIL and changed and message.client_id:
            record_client_activity(
                client=message.client, kind=ClientActivity.Kind.MESSAGE_FAILED, detail=detail, message=message
            )
        if kind in ESP_SUPPRESS and message.client_id:
            client_email_suppress(client=message.client, reason=f"{kind} ({esp_name})")
        elif kind == "unsubscribed" and message.client_id:
            email_unsubscribed(client=message.client, source=ConsentChange.Source.PROVIDER, detail=esp_name)
    return changed
