"""SMS through Twilio; without credentials a log backend records what would have been sent."""

import logging
import uuid

import requests
from django.conf import settings
from django.urls import reverse

from messaging.channels.base import (
    GATEWAY_TIMEOUT,
    RETRY_LATER_HTTP,
    BaseChannel,
    DeliveryError,
    SendResult,
    http_failure,
)
from messaging.sms_text import normalize_sms_text, sms_info

logger = logging.getLogger(__name__)

# Twilio error codes after which sending the same message again cannot succeed.
PERMANENT_TWILIO_CODES = {
    21211,  # invalid 'To' number
    21408,  # no permission to send to this region
    21606,  # 'From' number cannot send
    21610,  # recipient replied STOP
    21612,  # cannot route to this number
    21614,  # 'To' is not a mobile number
    21617,  # body too long
    30003,  # unreachable handset
    30005,  # unknown destination
    30006,  # landline
    30007,  # carrier filtering
}
TWILIO_UNSUBSCRIBED = 21610
TRANSIENT_TWILIO_CODES = {20429, 20500, 20503}


def twilio_error(exc) -> DeliveryError:
    """Twilio answered with an error: what it means for this message."""
    code = exc.code or 0
    status = exc.status or 0
    text = f"Twilio {exc.status} error {code}: {exc.msg}"
    if code == TWILIO_UNSUBSCRIBED:
        return DeliveryError(text, code=code, refused_recipient=f"Twilio {code}: recipient sent STOP")
    if status == GATEWAY_TIMEOUT:
        return DeliveryError(text, code=code or status, outcome_unknown=True)
    permanent = code in PERMANENT_TWILIO_CODES or (
        code not in TRANSIENT_TWILIO_CODES and 400 <= status < 500 and status not in RETRY_LATER_HTTP
    )
    return DeliveryError(text, permanent=permanent, code=code or status)


def twilio_configured() -> bool:
    return bool(settings.TWILIO_ACCOUNT_SID and settings.TWILIO_AUTH_TOKEN and settings.TWILIO_FROM_NUMBER)


def status_callback_url() -> str:
    if not settings.SITE_URL:
        return ""
    return f"{settings.SITE_URL}{reverse('messaging:twilio_status')}"


def twilio_client():
    from twilio.http.http_client import TwilioHttpClient
    from twilio.rest import Client

    # Without an explicit timeout a stalled connection would hold the worker forever.
    http_client = TwilioHttpClient(timeout=settings.TWILIO_HTTP_TIMEOUT)
    return Client(settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN, http_client=http_client)


class SmsChannel(BaseChannel):
    name = "sms"

    def __init__(self):
        self.client = None

    def open(self):
        if twilio_configured():
            self.client = twilio_client()

    def address_for(self, client) -> str:
        # Not ``if client.phone``: a PhoneNumber's truth value formats (and so validates)
        # the number, and str() does it again; once is enough when thousands are queued.
        phone = client.phone
        return str(phone) if phone is not None else ""

    def send(self, message) -> SendResult:
        body = normalize_sms_text(message.body)
        info = sms_info(body)
        if not info.is_gsm7:
            logger.warning(
                "SMS %s is not GSM-7 (%s segments as UCS-2); non-GSM characters double its cost",
                message.pk,
                info.segments,
            )
        if self.client is None:
            if twilio_configured():
                self.open()
            else:
                logger.info(
                    "SMS (log backend) to %s, %s segment(s): %s", message.to_address, info.segments, body
                )
                return SendResult(
                    provider_id=f"log-{uuid.uuid4().hex[:16]}", status="sent", from_address="log"
                )
        from twilio.base.exceptions import TwilioRestException

        params = {"to": message.to_address, "from_": settings.TWILIO_FROM_NUMBER, "body": body}
        callback = status_callback_url()
        if callback:
            params["status_callback"] = callback
        try:
            sent = self.client.messages.create(**params)
        except TwilioRestException as exc:
            raise twilio_error(exc) from exc
        except requests.RequestException as exc:
            # Each attempt is a new Twilio message: only retry what never reached Twilio.
            raise http_failure(exc, provider="Twilio") from exc
        return SendResult(provider_id=sent.sid or "", status="sent", from_address=settings.TWILIO_FROM_NUMBER)
