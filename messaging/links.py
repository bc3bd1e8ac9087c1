"""Absolute links for messages: the client portal, a session's confirm / cancel page, waitlist offers.

Used as template variables by automation (``portal_link``, ``booking_link``,
``confirm_link``, ``cancel_link``) and by staff composing messages. Each call signs a fresh
portal token that expires after ``PORTAL_LINK_MAX_AGE_DAYS``.
"""

from urllib.parse import urlencode

from django.conf import settings
from django.urls import reverse

from messaging.portal.tokens import make_portal_token


def _absolute(path: str) -> str:
    return f"{settings.SITE_URL}{path}"


def portal_link(client) -> str:
    return _absolute(reverse("portal:home", args=[make_portal_token(client)]))


def booking_link(client) -> str:
    """The portal's booking page: the client picks a type and one of their trainer's free times."""
    return _absolute(reverse("portal:book", args=[make_portal_token(client)]))


def _session_link(session, action: str) -> str:
    # The link opens a page with the button; only its POST changes anything, so
    # mail scanners that follow links cannot confirm or cancel a session.
    path = reverse("portal:session", args=[make_portal_token(session.client), session.pk])
    return _absolute(f"{path}?{urlencode({'action': action})}")


def confirm_link(session) -> str:
    return _session_link(session, "confirm")


def cancel_link(session) -> str:
    return _session_link(session, "cancel")


def offer_link(offer) -> str:
    """One freed time offered to one client: the page shows it with a Book button."""
    return _absolute(reverse("portal:offer", args=[make_portal_token(offer.request.client), offer.pk]))


def waitlist_link(client) -> str:
    """The client's "tell me when a time opens up" page (and where they withdraw)."""
    return _absolute(reverse("portal:waitlist", args=[make_portal_token(client)]))
