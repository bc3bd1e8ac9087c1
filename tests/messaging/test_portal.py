from datetime import timedelta
from decimal import Decimal
from urllib.parse import urlsplit

import pytest
import time_machine
from django.db.models.signals import post_save
from django.test import Client as HttpClient
from django.urls import resolve, reverse
from django.utils import timezone

from billing.models import Payment
from clients.models import Category, Channel, ConsentChange
from clients.services import client_rotate_portal_secret
from messaging.links import cancel_link, confirm_link, portal_link
from messaging.models import Message
from messaging.portal.tokens import make_portal_token
from scheduling.models import Session
from tests.factories import ClientFactory, PaymentFactory, SessionFactory

pytestmark = pytest.mark.django_db

Status = Message.Status


def path(url):
    return urlsplit(url).path


def home_url(client):
    return reverse("portal:home", args=[make_portal_token(client)])


def html(response):
    return response.content.decode()


def in_app(client, body, status=Status.DELIVERED, **fields):
    return Message.objects.create(client=client, channel=Channel.IN_APP, body=body, status=status, **fields)


@pytest.fixture
def other_client(client_obj):
    return ClientFactory(trainer=client_obj.trainer, first_name="Otto", last_name="Other")


# --- The page ---------------------------------------------------------------------------


def test_portal_shows_the_clients_own_messages_sessions_payments_and_studio(client, client_obj, settings):
    settings.STUDIO_NAME = "Iron Temple"
    in_app(client_obj, "Welcome aboard")
    in_app(client_obj, "Never delivered", status=Status.FAILED)
    SessionFactory(client=client_obj, location="Room Mint")
    PaymentFactory(client=client_obj, amount=Decimal("61.50"), description="Ten-pack")
    PaymentFactory(client=client_obj, amount=Decimal("99.00"), status=Payment.Status.CANCELLED)

    response = client.get(path(portal_link(client_obj)))

    page = html(response)
    assert response.status_code == 200
    assert "Iron Temple" in page
    assert f"Hello {client_obj.first_name}" in page
    assert "Welcome aboard" in page and "Never delivered" not in page
    assert "Room Mint" in page
    assert "61.50" in page and "Ten-pack" in page and "99.00" not in page
    assert 'name="viewport"' in page
    assert response["Referrer-Policy"] == "same-origin"
    assert "no-store" in response["Cache-Control"]


def test_no_portal_page_shows_another_clients_data(client, client_obj, other_client):
    in_app(other_client, "Otto's secret message")
    theirs = SessionFactory(client=other_client, location="Room Otto")
    PaymentFactory(client=other_client, amount=Decimal("777.00"))
    token = make_portal_token(client_obj)

    pages = [
        client.get(reverse("portal:home", args=[token])),
        client.get(reverse("portal:session", args=[token, theirs.pk])),
        client.get(reverse("portal:session", args=[token, theirs.pk]), {"action": "cancel"}),
        client.post(reverse("portal:session_confirm", args=[token, theirs.pk])),
        client.post(reverse("portal:session_cancel", args=[token, theirs.pk])),
    ]
    for response in pages:
        page = html(response)
        for leak in ("Otto", "Room Otto", "777.00", "secret message"):
            assert leak not in page
    assert [r.status_code for r in pages[1:]] == [404, 404, 404, 404]
    theirs.refresh_from_db()
    assert (theirs.status, theirs.confirmed_at) == (Session.Status.SCHEDULED, None)


@pytest.mark.parametrize("how", ["tampered", "expired", "rotated", "garbage", "unknown client"])
def test_a_bad_link_gets_a_friendly_page_that_offers_nothing(client, client_obj, how, settings):
    in_app(client_obj, "Private note")
    session = SessionFactory(client=client_obj)
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        token = make_portal_token(client_obj)
        if how == "tampered":
            token = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
        elif how == "expired":
            traveller.shift(timedelta(days=settings.PORTAL_LINK_MAX_AGE_DAYS, seconds=1))
        elif how == "rotated":
            client_rotate_portal_secret(client=client_obj)
        elif how == "garbage":
            token = "not-a-token"
        elif how == "unknown client":
            token = token.replace(f"{client_obj.pk}.", "999999.", 1)

        responses = [
            client.get(reverse("portal:home", args=[token])),
            client.get(reverse("portal:session", args=[token, session.pk])),
            client.post(reverse("portal:reply", args=[token]), {"body": "hi"}),
            client.post(reverse("portal:session_cancel", args=[token, session.pk])),
            client.post(reverse("portal:preferences", args=[token]), {}),
        ]
    for response in responses:
        assert response.status_code == 404
        page = html(response)
        assert "This link has expired or is no longer valid" in page
        assert "Private note" not in page and client_obj.first_name not in page
        assert "<form" not in page
    session.refresh_from_db()
    assert session.status == Session.Status.SCHEDULED
    assert not Message.objects.filter(direction="in").exists()


def test_every_portal_form_needs_the_csrf_token(client_obj):
    browser = HttpClient(enforce_csrf_checks=True)
    session = SessionFactory(client=client_obj)
    token = make_portal_token(client_obj)
    page = html(browser.get(reverse("portal:home", args=[token])))
    assert page.count("<form") == page.count("csrfmiddlewaretoken") >= 3
    # Cancelling asks first, on the session's page.
    page = html(browser.get(reverse("portal:session", args=[token, session.pk]), {"action": "cancel"}))
    assert 'id="cancel-form"' in page
    assert page.count("<form") == page.count("csrfmiddlewaretoken") >= 2

    for url, data in [
        (reverse("portal:reply", args=[token]), {"body": "hi"}),
        (reverse("portal:session_cancel", args=[token, session.pk]), {}),
        (reverse("portal:session_confirm", args=[token, session.pk]), {}),
        (reverse("portal:preferences", args=[token]), {}),
    ]:
        assert browser.post(url, data).status_code == 403


# --- Messages -------------------------------------------------------------------------


def test_opening_the_portal_marks_delivered_in_app_messages_read(client, client_obj):
    delivered = in_app(client_obj, "Delivered one")
    failed = in_app(client_obj, "Failed one", status=Status.FAILED)
    sms = Message.objects.create(
        client=client_obj, channel=Channel.SMS, body="An SMS", status=Status.DELIVERED
    )

    first = html(client.get(home_url(client_obj)))
    assert "1 new" in first

    delivered.refresh_from_db()
    failed.refresh_from_db()
    sms.refresh_from_db()
    assert delivered.status == Status.READ and delivered.read_at is not None
    assert failed.status == Status.FAILED and failed.read_at is None
    assert sms.status == Status.DELIVERED
    assert "1 new" not in html(client.get(home_url(client_obj)))


def test_a_reply_lands_unread_in_the_trainers_inbox(client, trainer, client_obj):
    token = make_portal_token(client_obj)
    response = client.post(reverse("portal:reply", args=[token]), {"body": "Can we move Friday?"})
    assert response.status_code == 302

    reply = Message.objects.get(client=client_obj)
    assert (reply.direction, reply.channel, reply.status, reply.read_at) == ("in", "in_app", "received", None)
    assert "Can we move Friday?" in html(client.get(reverse("portal:home", args=[token])))

    client.force_login(trainer)
    listing = html(client.get(reverse("inbox:list")))
    assert "Can we move Friday?" in listing
    assert '<span class="inbox-badge">1</span>' in listing


def test_an_empty_reply_is_refused(client, client_obj):
    response = client.post(reverse("portal:reply", args=[make_portal_token(client_obj)]), {"body": "   "})
    assert response.status_code == 400
    assert not Message.objects.exists()


# --- Sessions ---------------------------------------------------------------------------


def test_the_confirm_link_opens_the_session_page_without_changing_anything(client, client_obj):
    session = SessionFactory(client=client_obj)
    url = confirm_link(session)
    response = client.get(path(url), {"action": "confirm"})
    assert response.status_code == 200
    assert 'id="confirm-session"' in html(response)
    session.refresh_from_db()
    assert session.confirmed_at is None


def test_confirm_from_the_portal(client, client_obj):
    session = SessionFactory(client=client_obj)
    match = resolve(path(confirm_link(session)))
    response = client.post(reverse("portal:session_confirm", kwargs=match.kwargs))
    assert response.status_code == 302
    session.refresh_from_db()
    assert session.confirmed_at is not None
    assert session.status == Session.Status.SCHEDULED


def test_cancel_outside_the_notice_period_cancels_as_the_client_and_fires_the_save_event(
    client, client_obj, settings
):
    settings.CANCELLATION_NOTICE_HOURS = 24
    session = SessionFactory(client=client_obj, starts_at=timezone.now() + timedelta(hours=25))
    saved = []

    def receiver(sender, instance, **kwargs):
        saved.append((instance.pk, instance.status))

    post_save.connect(receiver, sender=Session)
    try:
        match = resolve(path(cancel_link(session)))
        response = client.post(reverse("portal:session_cancel", kwargs=match.kwargs))
    finally:
        post_save.disconnect(receiver, sender=Session)

    assert response.status_code == 302
    session.refresh_from_db()
    assert session.status == Session.Status.CANCELLED
    assert session.cancelled_by == Session.CancelledBy.CLIENT
    assert session.cancelled_at is not None
    # The same save a trainer's cancellation makes, so automation hears of it.
    assert saved == [(session.pk, Session.Status.CANCELLED)]


def test_cancel_inside_the_notice_period_is_refused_with_the_policy_text(client, client_obj, settings):
    settings.CANCELLATION_NOTICE_HOURS = 24
    settings.CANCELLATION_POLICY_TEXT = "Late cancellations are charged in full."
    session = SessionFactory(client=client_obj, starts_at=timezone.now() + timedelta(hours=23))
    token = make_portal_token(client_obj)

    page = html(client.get(reverse("portal:session", args=[token, session.pk]), {"action": "cancel"}))
    assert "Late cancellations are charged in full." in page
    assert 'id="cancel-session"' not in page

    response = client.post(reverse("portal:session_cancel", args=[token, session.pk]), follow=True)
    assert "Late cancellations are charged in full." in html(response)
    session.refresh_from_db()
    assert session.status == Session.Status.SCHEDULED
    assert session.cancelled_by == ""


def test_a_cancelled_session_cannot_be_cancelled_or_confirmed_again(client, client_obj):
    session = SessionFactory(client=client_obj, starts_at=timezone.now() + timedelta(days=3))
    token = make_portal_token(client_obj)
    client.post(reverse("portal:session_cancel", args=[token, session.pk]))
    again = client.post(reverse("portal:session_cancel", args=[token, session.pk]), follow=True)
    assert again.status_code == 200
    confirm = client.post(reverse("portal:session_confirm", args=[token, session.pk]), follow=True)
    assert "Only a scheduled session can be confirmed." in html(confirm)
    session.refresh_from_db()
    assert session.status == Session.Status.CANCELLED and session.confirmed_at is None


def test_past_and_cancelled_sessions_are_not_listed_as_upcoming(client, client_obj):
    SessionFactory(client=client_obj, starts_at=timezone.now() - timedelta(days=1), location="Yesterday")
    SessionFactory(client=client_obj, status=Session.Status.CANCELLED, location="Called off")
    SessionFactory(client=client_obj, location="Next week")
    page = html(client.get(home_url(client_obj)))
    assert "Next week" in page and "Yesterday" not in page and "Called off" not in page


# --- Preferences --------------------------------------------------------------------------


def _prefs(**on):
    return {name: "on" for name, value in on.items() if value}


def test_preference_changes_change_can_receive_and_are_recorded(client, client_obj):
    assert client_obj.can_receive(Channel.SMS, Category.TRANSACTIONAL)
    assert not client_obj.can_receive(Channel.EMAIL, Category.MARKETING)
    url = reverse("portal:preferences", args=[make_portal_token(client_obj)])

    # SMS reminders off, email news on; email reminders stay on.
    client.post(url, _prefs(email_transactional=True, email_marketing=True))

    client_obj.refresh_from_db()
    assert not client_obj.can_receive(Channel.SMS, Category.TRANSACTIONAL)
    assert client_obj.can_receive(Channel.EMAIL, Category.MARKETING)
    assert client_obj.can_receive(Channel.EMAIL, Category.TRANSACTIONAL)
    changes = {(c.channel, c.category, c.granted, c.source) for c in client_obj.consent_changes.all()}
    assert changes == {
        ("sms", "transactional", False, ConsentChange.Source.PORTAL),
        ("email", "marketing", True, ConsentChange.Source.PORTAL),
    }

    # And back again.
    client.post(url, _prefs(email_transactional=True, sms_transactional=True))
    client_obj.refresh_from_db()
    assert client_obj.can_receive(Channel.SMS, Category.TRANSACTIONAL)
    assert not client_obj.can_receive(Channel.EMAIL, Category.MARKETING)
    assert client_obj.consent_changes.count() == 4


def test_resubscribing_from_the_portal_lifts_an_email_unsubscribe_only_for_what_is_ticked(client, client_obj):
    client_obj.email_unsubscribed_at = timezone.now()
    client_obj.email_marketing = True
    client_obj.save()
    token = make_portal_token(client_obj)
    page = html(client.get(reverse("portal:home", args=[token])))
    assert 'name="email_transactional" id="id_email_transactional" checked' not in page

    client.post(
        reverse("portal:preferences", args=[token]), _prefs(email_transactional=True, sms_transactional=True)
    )

    client_obj.refresh_from_db()
    assert client_obj.email_unsubscribed_at is None
    assert client_obj.can_receive(Channel.EMAIL, Category.TRANSACTIONAL)
    assert not client_obj.can_receive(Channel.EMAIL, Category.MARKETING)


def test_saving_unchanged_preferences_records_nothing(client, client_obj):
    client.post(
        reverse("portal:preferences", args=[make_portal_token(client_obj)]),
        _prefs(email_transactional=True, sms_transactional=True),
    )
    assert not client_obj.consent_changes.exists()
