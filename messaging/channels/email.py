"""Email through Django's email API, so any django-anymail ESP works by setting."""

import smtplib

import requests
from anymail.exceptions import AnymailAPIError, AnymailError, AnymailRecipientsRefused
from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.template.loader import render_to_string

from clients.models import Category
from messaging.channels.base import (
    GATEWAY_TIMEOUT,
    RETRY_LATER_HTTP,
    BaseChannel,
    DeliveryError,
    SendResult,
    http_failure,
)
from messaging.unsubscribe import unsubscribe_url

# anymail's per-recipient statuses. "rejected": the ESP refuses this address for good
# (Postmark's inactive recipient, error 406; a suppression list); "invalid": malformed.
REFUSED = "rejected"
NOT_SENT = {"rejected", "invalid"}


def _esp_error(exc: AnymailAPIError) -> DeliveryError:
    status = getattr(exc, "status_code", None)
    if status is None and isinstance(exc.__cause__, requests.RequestException):
        # No response: anymail raised from requests' own error, which tells what
        # happened on the wire.
        return http_failure(exc.__cause__, provider="email provider")
    if status == GATEWAY_TIMEOUT:
        return DeliveryError(f"email provider error: {exc}", code=status, outcome_unknown=True)
    transient = status is None or status in RETRY_LATER_HTTP or status >= 500
    return DeliveryError(f"email provider error: {exc}", permanent=not transient, code=status or "")


class EmailChannel(BaseChannel):
    name = "email"

    def __init__(self):
        self.connection = None

    def open(self):
        # One connection for the batch: SMTP keeps the socket, API backends their session.
        self.connection = get_connection()
        self.connection.open()

    def close(self):
        if self.connection is not None:
            self.connection.close()
            self.connection = None

    def address_for(self, client) -> str:
        return client.email or ""

    def build(self, message) -> EmailMultiAlternatives:
        context = {
            "message": message,
            "client": message.client,
            "studio_name": settings.STUDIO_NAME,
            "site_url": settings.SITE_URL,
            "unsubscribe_url": "",
        }
        headers = {}
        if message.category == Category.MARKETING and message.client_id:
            url = unsubscribe_url(message.client)
            context["unsubscribe_url"] = url
            # RFC 8058: mail clients may POST to the URL without a visit.
            headers["List-Unsubscribe"] = f"<{url}>"
            headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        text = render_to_string("emails/base.txt", context)
        html = render_to_string("emails/base.html", context)
        email = EmailMultiAlternatives(
            subject=message.subject or settings.STUDIO_NAME,
            body=text,
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=[message.to_address],
            headers=headers,
            connection=self.connection,
        )
        email.attach_alternative(html, "text/html")
        for attachment in message.attachments or ():
            email.attach(attachment["filename"], attachment["content"], attachment["content_type"])
        return email

    def _refused(self, email, message) -> DeliveryError | None:
        """The error for a recipient the ESP did not send to, from its per-recipient status."""
        # One recipient per message: the statuses anymail reports are that address's.
        statuses = getattr(getattr(email, "anymail_status", None), "status", None)
        if not statuses or not statuses <= NOT_SENT:
            return None
        esp = getattr(self.connection, "esp_name", "the email provider")
        if statuses == {REFUSED}:
            return DeliveryError(
                f"recipient rejected by {esp}: inactive or suppressed address",
                refused_recipient=f"rejected by {esp} (inactive or suppressed recipient)",
            )
        return DeliveryError(f"recipient address refused by {esp} as invalid", permanent=True)

    def send(self, message) -> SendResult:
        email = self.build(message)
        try:
            email.send()
        except AnymailRecipientsRefused as exc:
            raise self._refused(email, message) or DeliveryError(
                f"recipient rejected: {exc}", permanent=True
            ) from exc
        except AnymailAPIError as exc:
            raise _esp_error(exc) from exc
        except AnymailError as exc:
            # Invalid address, unsupported feature, serialization: retrying cannot help.
            raise DeliveryError(f"email not accepted: {exc}", permanent=True) from exc
        except (smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused) as exc:
            raise DeliveryError(f"recipient rejected: {exc}", permanent=True) from exc
        except smtplib.SMTPResponseException as exc:
            # 5xx SMTP replies are final, 4xx ask us to try later.
            raise DeliveryError(
                f"SMTP {exc.smtp_code}: {exc.smtp_error!r}",
                permanent=exc.smtp_code >= 500,
                code=exc.smtp_code,
            ) from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise DeliveryError(f"email connection error: {exc}") from exc
        # With anymail's IGNORE_RECIPIENT_STATUS the send "succeeds" for a refused address.
        refused = self._refused(email, message)
        if refused is not None:
            raise refused
        status = getattr(email, "anymail_status", None)
        provider_id = ""
        if status is not None and status.message_id is not None:
            provider_id = str(status.message_id)
        return SendResult(provider_id=provider_id, status="sent", from_address=email.from_email)
