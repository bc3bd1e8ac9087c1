"""The session admin: double-booking and bad input are form errors; series booking; actions."""

import zoneinfo
from datetime import datetime, timedelta

import pytest
import time_machine
from django.utils import timezone

from scheduling import services
from scheduling.models import Session
from tests.factories import ClientFactory, SessionFactory

pytestmark = pytest.mark.django_db
LONDON = zoneinfo.ZoneInfo("Europe/London")
ADD_URL = "/admin/scheduling/session/add/"


def session_post(client, trainer, **overrides):
    data = {
        "client": client.pk,
        "trainer": trainer.pk,
        "starts_at_0": "2027-01-11",
        "starts_at_1": "09:00",
        "duration_minutes": "60",
        "location": "Studio A",
        "status": "scheduled",
        "notes": "",
    }
    data.update(overrides)
    return data


def errors(response):
    assert response.status_code == 200, "expected the form again, with errors"
    return response.context["adminform"].form.errors


def test_trainer_books_a_session_for_their_client(trainer_client, trainer, client_obj):
    response = trainer_client.post(ADD_URL, session_post(client_obj, trainer))
    assert response.status_code == 302
    session = Session.objects.get()
    assert session.starts_at == datetime(2027, 1, 11, 9, tzinfo=LONDON)
    assert (session.client, session.trainer) == (client_obj, trainer)


def test_double_booking_the_trainer_is_a_form_error_naming_the_clash(trainer_client, trainer, client_obj):
    blocker = services.session_book(
        trainer=trainer,
        client=ClientFactory(trainer=trainer, first_name="Ada", last_name="Lane"),
        starts_at=datetime(2027, 1, 11, 8, 30, tzinfo=LONDON),
    )
    response = trainer_client.post(ADD_URL, session_post(client_obj, trainer))
    [message] = errors(response)["__all__"]
    assert message == (
        "The trainer already has a session at that time: Ada Lane on Mon 11 Jan 2027 08:30–09:30 GMT "
        f"(session #{blocker.pk})."
    )
    assert message in response.content.decode()
    assert Session.objects.count() == 1


def test_double_booking_the_client_is_a_form_error(manager_client, trainer, other_trainer, client_obj):
    blocker = services.session_book(
        trainer=other_trainer, client=client_obj, starts_at=datetime(2027, 1, 11, 9, 15, tzinfo=LONDON)
    )
    response = manager_client.post(ADD_URL, session_post(client_obj, trainer))
    [message] = errors(response)["__all__"]
    assert message.startswith("The client already has a session at that time")
    assert f"session #{blocker.pk}" in message


def test_moving_a_session_onto_another_is_a_form_error(trainer_client, trainer, client_obj):
    session = SessionFactory(client=client_obj, starts_at=datetime(2027, 1, 11, 9, tzinfo=LONDON))
    other = SessionFactory(
        client=ClientFactory(trainer=trainer), starts_at=datetime(2027, 1, 11, 11, tzinfo=LONDON)
    )
    response = trainer_client.post(
        f"/admin/scheduling/session/{session.pk}/change/",
        session_post(client_obj, trainer, starts_at_1="10:30"),
    )
    assert f"session #{other.pk}" in errors(response)["__all__"][0]
    # Saving it unchanged is not a clash with itself.
    response = trainer_client.post(
        f"/admin/scheduling/session/{session.pk}/change/", session_post(client_obj, trainer)
    )
    assert response.status_code == 302


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"duration_minutes": "0"}, "duration_minutes", "A session lasts at least one minute."),
        ({"duration_minutes": "-45"}, "duration_minutes", "Ensure this value is greater than or equal to 0."),
        ({"duration_minutes": "721"}, "duration_minutes", "A session lasts at most 12 hours."),
        ({"duration_minutes": "99999999999999999999"}, "duration_minutes", None),
        ({"duration_minutes": "an hour"}, "duration_minutes", "Enter a whole number."),
        ({"starts_at_0": "2027-02-30"}, "starts_at", "Enter a valid date."),
        ({"starts_at_1": "25:00"}, "starts_at", "Enter a valid time."),
        ({"starts_at_0": ""}, "starts_at", "This field is required."),
        ({"starts_at_0": "9999-12-31", "starts_at_1": "23:59"}, "starts_at", None),
        ({"starts_at_0": "0001-01-01", "starts_at_1": "00:00"}, "starts_at", None),
        ({"status": "teleported"}, "status", None),
    ],
)
def test_bad_input_is_a_form_error_not_a_500(trainer_client, trainer, client_obj, overrides, field, message):
    response = trainer_client.post(ADD_URL, session_post(client_obj, trainer, **overrides))
    field_errors = errors(response)[field]
    if message:
        assert message in field_errors
    assert not Session.objects.exists()


def test_a_start_in_the_skipped_hour_of_a_clock_change_is_a_form_error(trainer_client, trainer, client_obj):
    # 01:30 on 28 March 2027 does not exist in London.
    response = trainer_client.post(
        ADD_URL, session_post(client_obj, trainer, starts_at_0="2027-03-28", starts_at_1="01:30")
    )
    assert "starts_at" in errors(response)
    assert not Session.objects.exists()


class TestWeeklySeriesPage:
    URL = "/admin/scheduling/session/book-series/"

    def post(self, http, client, trainer, **overrides):
        data = {
            "client": client.pk,
            "trainer": trainer.pk,
            "first_starts_at_0": "2027-03-15",
            "first_starts_at_1": "07:00",
            "occurrences": "4",
            "duration_minutes": "60",
            "location": "Studio B",
        }
        data.update(overrides)
        return http.post(self.URL, data)

    def test_books_the_series_and_lists_the_clashes(self, trainer_client, trainer, client_obj):
        blocker = SessionFactory(
            client=ClientFactory(trainer=trainer), starts_at=datetime(2027, 3, 29, 7, 30, tzinfo=LONDON)
        )
        response = self.post(trainer_client, client_obj, trainer)
        assert response.status_code == 200
        body = response.content.decode()
        assert "Booked 3 of 4 weekly sessions; 1 clashed and were not booked." in body
        assert f"session #{blocker.pk}" in body
        local_times = {
            s.starts_at.astimezone(LONDON).strftime("%H:%M")
            for s in Session.objects.filter(client=client_obj)
        }
        assert local_times == {"07:00"}

    @pytest.mark.parametrize(
        "overrides",
        [
            {"occurrences": "0"},
            {"occurrences": "500"},
            {"duration_minutes": "-5"},
            {"duration_minutes": "99999999999999999999"},
            {"first_starts_at_0": "soon"},
            {"first_starts_at_0": "9999-12-25"},
            {"first_starts_at_0": "2027-03-28", "first_starts_at_1": "01:30"},
        ],
    )
    def test_bad_input_is_a_form_error(self, trainer_client, trainer, client_obj, overrides):
        response = self.post(trainer_client, client_obj, trainer, **overrides)
        assert response.status_code == 200
        assert response.context["form"].errors
        assert not Session.objects.exists()

    def test_a_trainer_cannot_book_a_series_for_another_trainers_client(
        self, trainer_client, trainer, other_trainer
    ):
        foreign = ClientFactory(trainer=other_trainer)
        response = self.post(trainer_client, foreign, trainer)
        assert response.status_code == 200
        assert "client" in response.context["form"].errors
        response = self.post(trainer_client, ClientFactory(trainer=trainer), other_trainer)
        assert "trainer" in response.context["form"].errors
        assert not Session.objects.exists()


def test_actions_apply_the_transitions_and_explain_refusals(trainer_client, client_obj):
    scheduled = SessionFactory(client=client_obj, starts_at=timezone.now() - timedelta(hours=2))
    cancelled = SessionFactory(client=client_obj, status=Session.Status.CANCELLED)
    response = trainer_client.post(
        "/admin/scheduling/session/",
        {"action": "mark_completed", "_selected_action": [scheduled.pk, cancelled.pk]},
        follow=True,
    )
    texts = [str(m) for m in response.context["messages"]]
    assert "1 session(s) marked completed." in texts
    assert any("A cancelled session cannot be marked completed." in t for t in texts)
    scheduled.refresh_from_db()
    assert scheduled.status == Session.Status.COMPLETED


def test_marking_a_future_session_completed_is_refused_with_the_reason(trainer_client, client_obj):
    future = SessionFactory(client=client_obj, starts_at=timezone.now() + timedelta(days=1))
    response = trainer_client.post(
        "/admin/scheduling/session/",
        {"action": "mark_completed", "_selected_action": [future.pk]},
        follow=True,
    )
    [text] = [str(m) for m in response.context["messages"]]
    assert "This session has not started yet" in text
    assert "cannot be marked completed before then." in text
    future.refresh_from_db()
    assert future.status == Session.Status.SCHEDULED


class TestBookingInThePast:
    def test_the_add_form_asks_once_more_then_books(self, trainer_client, trainer, client_obj):
        with time_machine.travel(datetime(2027, 1, 12, 12, tzinfo=LONDON), tick=False):
            trainer_client.force_login(trainer)  # a login from weeks before would have expired
            first = trainer_client.post(ADD_URL, session_post(client_obj, trainer))
            form_errors = errors(first)
            assert "confirm_past" in form_errors
            assert "Mon 11 Jan 2027 09:00 GMT is in the past." in form_errors["confirm_past"][0]
            assert 'type="checkbox" name="confirm_past"' in first.content.decode()
            assert not Session.objects.exists()

            second = trainer_client.post(ADD_URL, session_post(client_obj, trainer, confirm_past="on"))
            assert second.status_code == 302
            assert Session.objects.get().starts_at == datetime(2027, 1, 11, 9, tzinfo=LONDON)

    def test_the_box_stays_out_of_sight_for_future_bookings(self, trainer_client):
        page = trainer_client.get(ADD_URL).content.decode()
        assert 'type="hidden" name="confirm_past"' in page
        assert 'type="checkbox" name="confirm_past"' not in page

    def test_editing_a_past_sessions_notes_needs_no_confirmation(self, trainer_client, trainer, client_obj):
        session = SessionFactory(client=client_obj, starts_at=datetime(2027, 1, 11, 9, tzinfo=LONDON))
        with time_machine.travel(datetime(2027, 1, 12, 12, tzinfo=LONDON), tick=False):
            trainer_client.force_login(trainer)
            response = trainer_client.post(
                f"/admin/scheduling/session/{session.pk}/change/",
                session_post(client_obj, trainer, notes="felt strong"),
            )
        assert response.status_code == 302
        session.refresh_from_db()
        assert session.notes == "felt strong"
