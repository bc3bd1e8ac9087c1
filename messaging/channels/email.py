"""Email through Django's email API, so any django-anymail ESP works by setting."""

import smtplib

from anymail.exceptions import AnymailAPIError, AnymailError, AnymailRecipientsRefused
from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.template.loader import render_to_string

from clients.models import Category
from messaging.channels.base import BaseChannel, DeliveryError, SendResult

TRANSIENT_HTTP = {408, 425, 429}


def _is_transient_status(status) -> bool:
    return status is None or status in TRANSIENT_HTTP or status >= 500


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
        from messaging.unsubscribe import unsubscribe_url

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

    def send(self, message) -> SendResult:
        email = self.build(message)
        try:
            email.send()
        except AnymailRecipientsRefused as exc:
            raise DeliveryError(f"recipient rejected: {exc}", permanent=True) from exc
        except AnymailAPIError as exc:
            status = getattr(exc, "status_code", None)
            raise DeliveryError(
                f"email provider error: {exc}", permanent=not _is_transient_status(status), code=status or ""
            ) from exc
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
        status = getattr(email, "anymail_status", None)
        provider_id = ""
        if status is not None and status.message_id is not None:
            provider_id = str(status.message_id)
        return SendResult(provider_id=provider_id, status="sent", from_address=email.from_email)
