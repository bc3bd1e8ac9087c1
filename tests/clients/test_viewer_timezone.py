"""The per-user zone: staff pages show times in the viewer's zone, set by themselves or a manager."""

from datetime import UTC, datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from clients.models import StaffProfile
from clients.services import staff_set_timezone
from clients.timezones import staff_tz
from tests.factories import SessionFactory

pytestmark = pytest.mark.django_db


def test_staff_without_a_profile_see_the_studio_zone(trainer, settings):
    settings.STUDIO_TIME_ZONE = "Europe/London"
    assert staff_tz(trainer).key == "Europe/London"


def test_the_admin_shows_times_in_the_viewers_zone(trainer_client, trainer, settings):
    settings.STUDIO_TIME_ZONE = "Europe/London"
    staff_set_timezone(user=trainer, timezone_name="America/New_York")
    session = SessionFactory(client__trainer=trainer, starts_at=datetime(2026, 12, 1, 15, 0, tzinfo=UTC))
    page = trainer_client.get(reverse("admin:scheduling_session_change", args=[session.pk]))
    # 15:00 UTC is 10:00 in New York (EST) and 15:00 in London.
    html = page.content.decode()
    assert 'value="10:00:00"' in html
    assert 'value="15:00:00"' not in html


def test_the_zone_is_read_with_the_user_no_extra_query(trainer_client, trainer):
    staff_set_timezone(user=trainer, timezone_name="America/New_York")
    with CaptureQueriesContext(connection) as queries:
        response = trainer_client.get(reverse("admin:index"))
    assert response.status_code == 200
    # The profile is joined into the one query that loads request.user.
    touching_profiles = [q["sql"] for q in queries if "clients_staffprofile" in q["sql"]]
    assert len(touching_profiles) == 1
    assert "auth_user" in touching_profiles[0]


def test_a_manager_changing_a_trainers_zone_takes_effect_on_her_next_page(
    trainer_client, trainer, manager, client_obj
):
    staff_set_timezone(user=trainer, timezone_name="America/New_York")
    trainer_client.get(reverse("my_settings"))
    staff_set_timezone(user=trainer, timezone_name="Asia/Tokyo")
    response = trainer_client.get(reverse("my_settings"))
    assert 'value="Asia/Tokyo"' in response.content.decode()
    assert "Your pages now show times in <strong>Asia/Tokyo" in response.content.decode()


def test_the_zone_does_not_leak_into_the_next_request(trainer_client, trainer):
    staff_set_timezone(user=trainer, timezone_name="America/New_York")
    trainer_client.get(reverse("my_settings"))
    assert timezone.get_current_timezone_name() == timezone.get_default_timezone_name()


def test_a_trainer_sets_her_own_zone_under_my_settings(trainer_client, trainer):
    page = trainer_client.get(reverse("admin:index"))
    assert reverse("my_settings") in page.content.decode()
    response = trainer_client.post(reverse("my_settings"), {"timezone": "America/New_York"})
    assert response.status_code == 302
    assert StaffProfile.objects.get(user=trainer).timezone == "America/New_York"


def test_an_unknown_zone_is_refused_with_the_clients_wording(trainer_client, trainer):
    response = trainer_client.post(reverse("my_settings"), {"timezone": "Mars/Olympus"})
    assert response.status_code == 200
    assert "is not a known time zone" in response.content.decode()
    assert not StaffProfile.objects.filter(user=trainer).exists()


def test_blank_means_the_studios_zone(trainer_client, trainer, settings):
    settings.STUDIO_TIME_ZONE = "Europe/London"
    staff_set_timezone(user=trainer, timezone_name="America/New_York")
    trainer_client.post(reverse("my_settings"), {"timezone": ""})
    trainer.refresh_from_db()
    assert staff_tz(trainer).key == "Europe/London"


def test_a_manager_sets_a_trainers_zone_in_the_admin(manager_client, trainer):
    response = manager_client.post(
        reverse("admin:clients_staffprofile_add"), {"user": trainer.pk, "timezone": "America/New_York"}
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert StaffProfile.objects.get(user=trainer).timezone == "America/New_York"


def test_a_trainer_cannot_set_other_peoples_zones(trainer_client):
    assert trainer_client.get(reverse("admin:clients_staffprofile_changelist")).status_code == 403
