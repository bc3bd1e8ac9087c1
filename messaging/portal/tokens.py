"""Portal links: signed, expiring, bound to one client, revocable.

A token is ``<client id>.<timestamp>.<signature>``. The signature's salt
includes the client's ``portal_secret``, so rotating that secret
(``clients.services.client_rotate_portal_secret``) invalidates every link sent
before, and a token signed for one client never verifies for another.
"""

from datetime import timedelta

from django.conf import settings
from django.core import signing

from clients.models import Client
from common.ids import parse_pk

SALT = "fitcrm.portal"


class InvalidPortalToken(Exception):
    """Tampered, expired, revoked, or for a client that no longer exists."""


def _signer(client: Client) -> signing.TimestampSigner:
    # "." keeps the token URL-friendly; it never occurs in the base64 parts.
    return signing.TimestampSigner(salt=f"{SALT}:{client.pk}:{client.portal_secret}", sep=".")


def make_portal_token(client: Client) -> str:
    return _signer(client).sign(str(client.pk))


def max_age() -> timedelta:
    return timedelta(days=settings.PORTAL_LINK_MAX_AGE_DAYS)


def client_from_token(token: str, *, queryset=None) -> Client:
    """The client a token was issued to, or :class:`InvalidPortalToken`."""
    client_id = parse_pk(token.partition(".")[0])
    if client_id is None:
        raise InvalidPortalToken("malformed")
    queryset = Client.objects.all() if queryset is None else queryset
    try:
        client = queryset.get(pk=client_id)
    except Client.DoesNotExist:
        raise InvalidPortalToken("unknown client") from None
    try:
        value = _signer(client).unsign(token, max_age=max_age())
    except signing.SignatureExpired:
        raise InvalidPortalToken("expired") from None
    except signing.BadSignature:
        raise InvalidPortalToken("bad signature") from None
    if value != str(client.pk):
        raise InvalidPortalToken("client mismatch")
    return client
