"""Session types and availability in the admin: each trainer manages her own."""

import pytest

from scheduling.models import Availability, SessionType
from tests.factories import ClientFactory, SessionFactory
from tests.support.admin_forms import form_data

pytestmark = pytest.mark.django_db


def test_trainer_sets_her_weekly_hours_and_a_day_off(trainer_client, trainer):
    page = trainer_client.get("/admin/scheduling/availability/add/")
    data = form_data(page, "availability_form")
    data.update(
        {
            "trainer": trainer.pk,
            "minimum_notice_hours": "12",
            "horizon_days": "56",
            "slot_interval_minutes": "30",
            "weekly_hours-TOTAL_FORMS": "2",
            "weekly_hours-0-weekday": "0",
            "weekly_hours-0-start_time": "09:00",
            "weekly_hours-0-end_time": "12:00",
            "weekly_hours-1-weekday": "0",
            "weekly_hours-1-start_time": "14:00",
            "weekly_hours-1-end_time": "18:00",
            "overrides-TOTAL_FORMS": "1",
            "overrides-0-date": "2027-01-04",
            "overrides-0-note": "Holiday",
        }
    )
    response = trainer_client.post("/admin/scheduling/availability/add/", data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    availability = Availability.objects.get(trainer=trainer)
    assert [str(h) for h in availability.weekly_hours.all()] == ["Monday 09:00–12:00", "Monday 14:00–18:00"]
    assert availability.overrides.get().is_day_off


def test_trainer_sees_only_her_own_availability(trainer_client, trainer, other_trainer):
    Availability.objects.create(trainer=trainer)
    theirs = Availability.objects.create(trainer=other_trainer)
    assert trainer_client.get("/admin/scheduling/availability/").context["cl"].result_count == 1
    assert trainer_client.get(f"/admin/scheduling/availability/{theirs.pk}/change/").status_code == 302


def test_trainer_sees_studio_wide_types_but_cannot_change_them(trainer_client, trainer, other_trainer):
    mine = SessionType.objects.create(name="PT", trainer=trainer)
    studio = SessionType.objects.create(name="Intro", duration_minutes=30)
    SessionType.objects.create(name="Theirs", trainer=other_trainer)
    listing = trainer_client.get("/admin/scheduling/sessiontype/")
    assert {t.name for t in listing.context["cl"].result_list} == {"PT", "Intro"}
    assert (
        trainer_client.post(f"/admin/scheduling/sessiontype/{studio.pk}/change/", {"name": "x"}).status_code
        == 403
    )
    assert trainer_client.get(f"/admin/scheduling/sessiontype/{mine.pk}/change/").status_code == 200


def test_staff_see_who_booked_a_session_and_can_filter_by_it(trainer_client, trainer):
    online = SessionFactory(trainer=trainer, client=ClientFactory(trainer=trainer), booked_by="client")
    SessionFactory(trainer=trainer, client=ClientFactory(trainer=trainer))
    page = trainer_client.get(f"/admin/scheduling/session/{online.pk}/change/")
    assert "Client (online)" in page.content.decode()
    listing = trainer_client.get("/admin/scheduling/session/", {"booked_by__exact": "client"})
    assert listing.context["cl"].result_count == 1
