"""Login throttling (django-axes): a username+address pair is locked after repeated
wrong passwords, the lock expires, and studio managers see and lift it in the admin."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from axes.models import AccessAttempt
from django.conf import settings
from django.urls import reverse

from tests.factories import ManagerFactory, TrainerFactory

pytestmark = pytest.mark.django_db

LOGIN = reverse("admin:login")
ATTACKER = "203.0.113.7"
PASSWORD = "pass-word-123"  # the factories' password
START = datetime(2027, 3, 1, 9, tzinfo=UTC)


@pytest.fixture
def maria(db):
    return ManagerFactory(username="maria")


def log_in(client, username, password, ip=ATTACKER):
    return client.post(LOGIN, {"username": username, "password": password, "next": "/admin/"}, REMOTE_ADDR=ip)


def is_logged_in(client) -> bool:
    return "_auth_user_id" in client.session


def fail(client, username, times, ip=ATTACKER):
    for _ in range(times):
        response = log_in(client, username, "wrong-password", ip=ip)
        assert response.status_code in (200, 429)


def test_thirty_wrong_passwords_lock_out_the_right_one(client, maria):
    fail(client, "maria", 30)

    response = log_in(client, "maria", PASSWORD)

    assert response.status_code == 429
    assert "Too many wrong passwords" in response.content.decode()
    assert not is_logged_in(client)


def test_the_lock_starts_at_the_failure_limit(client, maria):
    fail(client, "maria", settings.AXES_FAILURE_LIMIT - 1)
    assert log_in(client, "maria", PASSWORD).status_code == 302
    assert is_logged_in(client)


def test_the_lock_expires_after_the_cool_off(client, maria):
    with time_machine.travel(START, tick=False) as traveller:
        fail(client, "maria", 30)
        traveller.shift(settings.AXES_COOLOFF_TIME - timedelta(seconds=1))
        assert log_in(client, "maria", PASSWORD).status_code == 429

        # Each refused attempt restarts the wait; a quiet cool-off ends it.
        traveller.shift(settings.AXES_COOLOFF_TIME + timedelta(seconds=1))
        response = log_in(client, "maria", PASSWORD)

    assert response.status_code == 302
    assert is_logged_in(client)


def test_another_address_is_not_locked_out(client, maria):
    fail(client, "maria", 30)

    response = log_in(client, "maria", PASSWORD, ip="198.51.100.20")

    assert response.status_code == 302
    assert is_logged_in(client)


def test_another_username_from_the_same_address_is_not_locked_out(client, maria):
    TrainerFactory(username="anna")
    fail(client, "maria", 30)

    response = log_in(client, "anna", PASSWORD)

    assert response.status_code == 302
    assert is_logged_in(client)


def test_a_studio_manager_sees_the_lockout_and_can_lift_it(client, maria):
    fail(client, "anna", 30)
    attempt = AccessAttempt.objects.get(username="anna")
    client.force_login(maria)

    listing = client.get(reverse("admin:axes_accessattempt_changelist"))
    assert listing.status_code == 200
    assert "anna" in listing.content.decode()
    assert ATTACKER in listing.content.decode()

    client.post(reverse("admin:axes_accessattempt_delete", args=[attempt.pk]), {"post": "yes"})
    assert not AccessAttempt.objects.exists()
    client.logout()
    TrainerFactory(username="anna")
    assert log_in(client, "anna", PASSWORD).status_code == 302


def test_a_trainer_does_not_see_the_login_records(client):
    client.force_login(TrainerFactory(username="ben"))
    assert client.get(reverse("admin:axes_accessattempt_changelist")).status_code == 403
    assert client.get(reverse("admin:axes_accesslog_changelist")).status_code == 403


# --- Behind a reverse proxy -----------------------------------------------------------------

PROXY = "127.0.0.1"


def log_in_through_proxy(client, username, password, forwarded_for):
    return client.post(
        LOGIN,
        {"username": username, "password": password, "next": "/admin/"},
        REMOTE_ADDR=PROXY,
        HTTP_X_FORWARDED_FOR=forwarded_for,
    )


def test_behind_a_trusted_proxy_the_lockout_is_per_client_address(client, maria, settings):
    settings.TRUST_X_FORWARDED_FOR = True
    for _ in range(30):
        log_in_through_proxy(client, "maria", "wrong-password", forwarded_for=ATTACKER)

    assert log_in_through_proxy(client, "maria", PASSWORD, forwarded_for=ATTACKER).status_code == 429
    # The same username from another client of the same proxy still gets in.
    response = log_in_through_proxy(client, "maria", PASSWORD, forwarded_for="198.51.100.20")
    assert response.status_code == 302


def test_behind_a_trusted_proxy_only_the_address_it_appended_counts(client, maria, settings):
    settings.TRUST_X_FORWARDED_FOR = True
    # The attacker varies what it sends itself; the proxy appends the real address last.
    for n in range(30):
        log_in_through_proxy(client, "maria", "wrong-password", forwarded_for=f"10.0.0.{n}, {ATTACKER}")

    assert log_in_through_proxy(client, "maria", PASSWORD, forwarded_for=ATTACKER).status_code == 429


def test_without_a_trusted_proxy_x_forwarded_for_is_ignored(client, maria):
    for n in range(30):
        log_in_through_proxy(client, "maria", "wrong-password", forwarded_for=f"10.0.0.{n}")

    assert log_in_through_proxy(client, "maria", PASSWORD, forwarded_for="10.0.0.99").status_code == 429
