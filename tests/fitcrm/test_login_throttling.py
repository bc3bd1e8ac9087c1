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
