"""Signed, permanent unsubscribe links (email news and offers).

The token carries only the client's id, signed with SECRET_KEY: it cannot be
guessed or altered, and it keeps working for as long as old emails are read.
"""

from django.conf import settings
from django.core import signing
from django.urls import reverse

from clients.models import Client

SALT = "messaging.unsubscribe"


def unsubscribe_token(client) -> str:
    return signing.Signer(salt=SALT).sign(str(client.pk))


def client_for_token(token: str) -> Client | None:
    try:
        pk = signing.Signer(salt=SALT).unsign(token)
    except signing.BadSignature:
        return None
    return Client.objects.filter(pk=pk).first()


def unsubscribe_url(client) -> str:
    """Absolute link for emails and the ``List-Unsubscribe`` header."""
    return f"{settings.SITE_URL}{reverse('unsubscribe', args=[unsubscribe_token(client)])}"
