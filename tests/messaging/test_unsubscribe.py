import pytest
from django.test import Client as HttpClient

from clients.models import ConsentChange
from messaging.delivery import deliver_due
from messaging.models import Message
from messaging.services import send_message
from messaging.unsubscribe import unsubscribe_token, unsubscribe_url
from tests.factories import ClientFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def fan(trainer):
    return ClientFactory(trainer=trainer, email_marketing=True)


def test_unsubscribe_url_is_absolute_signed_and_built_from_site_url(fan, settings):
    settings.SITE_URL = "https://crm.studio.example"
    url = unsubscribe_url(fan)
    assert url == f"https://crm.studio.example/unsubscribe/{unsubscribe_token(fan)}/"
    assert unsubscribe_token(fan) != str(fan.pk)


def test_marketing_email_carries_one_click_unsubscribe_headers(fan, esp_email, settings):
    settings.STUDIO_NAME = "Peak Fitness"
    send_message(client=fan, channel="email", subject="Spring offer", body="20% off", category="marketing")
    deliver_due(limit=10)

    (email,) = esp_email
    assert email.extra_headers["List-Unsubscribe"] == f"<{unsubscribe_url(fan)}>"
    assert email.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    html, mimetype = email.alternatives[0]
    assert mimetype == "text/html"
    assert "Peak Fitness" in html
    assert unsubscribe_url(fan) in html
    assert "20% off" in email.body


def test_transactional_email_has_html_but_no_list_unsubscribe(client_obj, esp_email, settings):
    settings.STUDIO_NAME = "Peak Fitness"
    send_message(client=client_obj, channel="email", subject="Receipt", body="Paid, thanks")
    deliver_due(limit=10)
    (email,) = esp_email
    assert "List-Unsubscribe" not in email.extra_headers
    assert "Peak Fitness" in email.alternatives[0][0]


def test_one_click_post_unsubscribes_without_login_or_csrf_and_answers_200(fan):
    browserless = HttpClient(enforce_csrf_checks=True)
    response = browserless.post(
        f"/unsubscribe/{unsubscribe_token(fan)}/",
        "List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 200
    fan.refresh_from_db()
    assert fan.email_unsubscribed_at is not None
    assert ConsentChange.objects.get(client=fan).source == ConsentChange.Source.UNSUBSCRIBE_LINK
    # Posting again (mail clients retry) is harmless.
    assert browserless.post(f"/unsubscribe/{unsubscribe_token(fan)}/").status_code == 200
    fan.refresh_from_db()
    assert fan.email_unsubscribed_at is not None


def test_get_shows_a_confirm_page_and_changes_nothing(client, fan):
    response = client.get(f"/unsubscribe/{unsubscribe_token(fan)}/")
    assert response.status_code == 200
    assert b'<form method="post"' in response.content
    fan.refresh_from_db()
    assert fan.email_unsubscribed_at is None
    assert not ConsentChange.objects.exists()


def test_a_tampered_token_is_refused(client, fan):
    token = unsubscribe_token(fan)
    other = ClientFactory(trainer=fan.trainer)
    forged = f"{other.pk}:{token.split(':', 1)[1]}"
    assert client.post(f"/unsubscribe/{forged}/").status_code == 404
    other.refresh_from_db()
    assert other.email_unsubscribed_at is None


def test_after_unsubscribing_queued_marketing_is_suppressed(fan, esp_email, client):
    message = send_message(client=fan, channel="email", subject="Offer", body="...", category="marketing")
    client.post(f"/unsubscribe/{unsubscribe_token(fan)}/")
    deliver_due(limit=10)
    message.refresh_from_db()
    assert message.status == Message.Status.SUPPRESSED
    assert esp_email == []
