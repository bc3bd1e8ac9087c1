from datetime import timedelta
from urllib.parse import urlsplit

import pytest
import time_machine
from django.urls import resolve
from django.utils import timezone

from clients.services import client_rotate_portal_secret
from messaging.links import cancel_link, confirm_link, portal_link
from messaging.portal.tokens import InvalidPortalToken, client_from_token
from tests.factories import ClientFactory, SessionFactory

pytestmark = pytest.mark.django_db


def _token(url):
    return resolve(urlsplit(url).path).kwargs["token"]


def test_portal_link_is_absolute_from_site_url(settings, client_obj):
    settings.SITE_URL = "https://crm.example.com"
    url = portal_link(client_obj)
    assert url.startswith("https://crm.example.com/portal/")
    assert client_from_token(_token(url)) == client_obj


def test_confirm_and_cancel_links_open_the_sessions_portal_page(settings):
    settings.SITE_URL = "https://crm.example.com"
    session = SessionFactory()
    for url, action in ((confirm_link(session), "confirm"), (cancel_link(session), "cancel")):
        parts = urlsplit(url)
        match = resolve(parts.path)
        assert match.view_name == "portal:session"
        assert match.kwargs["session_id"] == session.pk
        assert parts.query == f"action={action}"
        assert client_from_token(match.kwargs["token"]) == session.client


def test_tampered_token_is_refused(client_obj):
    token = _token(portal_link(client_obj))
    client_id, stamp, signature = token.split(".")
    flipped = signature[:-1] + ("A" if signature[-1] != "A" else "B")
    for bad in (f"{client_id}.{stamp}.{flipped}", f"{client_id}.{stamp}", "garbage", ""):
        with pytest.raises(InvalidPortalToken):
            client_from_token(bad)


def test_token_for_one_client_does_not_open_another(client_obj):
    other = ClientFactory(trainer=client_obj.trainer)
    token = _token(portal_link(client_obj))
    forged = token.replace(f"{client_obj.pk}.", f"{other.pk}.", 1)
    with pytest.raises(InvalidPortalToken):
        client_from_token(forged)


def test_token_expires_after_max_age(settings, client_obj):
    settings.PORTAL_LINK_MAX_AGE_DAYS = 30
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        token = _token(portal_link(client_obj))
        traveller.shift(timedelta(days=29, hours=23))
        assert client_from_token(token) == client_obj
        traveller.shift(timedelta(hours=2))
        with pytest.raises(InvalidPortalToken, match="expired"):
            client_from_token(token)


def test_rotating_the_portal_secret_revokes_old_links(client_obj):
    old = _token(portal_link(client_obj))
    client_rotate_portal_secret(client=client_obj)
    with pytest.raises(InvalidPortalToken):
        client_from_token(old)
    assert client_from_token(_token(portal_link(client_obj))) == client_obj
