"""iCalendar feeds and invitations, parsed back with icalendar: UID, SEQUENCE, CANCEL, UTC times."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from icalendar import Calendar

from scheduling import ics
from scheduling import services as scheduling
from scheduling.calendar import services as calendar_services
from tests.factories import ClientFactory, SessionFactory, TrainerFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 10, 20, 9, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


def events(text: str):
    calendar = Calendar.from_ical(text)
    return calendar, {str(e["UID"]): e for e in calendar.walk("VEVENT")}


def feed_url(trainer) -> str:
    return f"/calendar/feed/{calendar_services.feed_token(calendar_services.feed_for(trainer))}.ics"


def test_feed_lists_the_trainers_sessions_a_month_back_to_a_year_ahead(client):
    trainer = TrainerFactory()
    c = ClientFactory(trainer=trainer, first_name="Inés", last_name="Núñez, Jr.")
    inside = [
        SessionFactory(client=c, starts_at=NOW - timedelta(days=29), location="Room 1; upstairs"),
        SessionFactory(client=c, starts_at=NOW + timedelta(days=364)),
    ]
    SessionFactory(client=c, starts_at=NOW - timedelta(days=31))
    SessionFactory(client=c, starts_at=NOW + timedelta(days=366))
    SessionFactory(client=ClientFactory(), starts_at=NOW + timedelta(days=1))  # another trainer's

    response = client.get(feed_url(trainer))

    assert response.status_code == 200
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    calendar, found = events(response.content.decode())
    assert str(calendar["METHOD"]) == "PUBLISH"
    assert set(found) == {ics.session_uid(s.pk) for s in inside}
    first = found[ics.session_uid(inside[0].pk)]
    assert str(first["SUMMARY"]) == "Inés Núñez, Jr."
    assert str(first["LOCATION"]) == "Room 1; upstairs"
    assert first.decoded("DTSTART") == inside[0].starts_at
    assert first.decoded("DTSTART").tzinfo is not None and first["DTSTART"].to_ical().endswith(b"Z")
    assert int(first["SEQUENCE"]) == 0 and str(first["STATUS"]) == "CONFIRMED"


def test_a_move_keeps_the_uid_and_raises_the_sequence_a_cancellation_raises_it_again(client):
    trainer = TrainerFactory()
    session = scheduling.session_book(
        trainer=trainer, client=ClientFactory(trainer=trainer), starts_at=NOW + timedelta(days=2)
    )
    uid = ics.session_uid(session.pk)
    assert int(events(client.get(feed_url(trainer)).content)[1][uid]["SEQUENCE"]) == 0

    scheduling.session_update(session=session, starts_at=NOW + timedelta(days=3))
    scheduling.session_update(session=session, duration_minutes=90)  # a resize is a new time too
    scheduling.session_update(session=session, location="Park")  # not a new time
    moved = events(client.get(feed_url(trainer)).content)[1][uid]
    assert int(moved["SEQUENCE"]) == 2
    assert moved.decoded("DTSTART") == NOW + timedelta(days=3)
    assert moved.decoded("DTEND") == NOW + timedelta(days=3, minutes=90)

    scheduling.session_cancel(session=session)
    cancelled = events(client.get(feed_url(trainer)).content)[1][uid]
    assert (str(cancelled["STATUS"]), int(cancelled["SEQUENCE"])) == ("CANCELLED", 3)


def test_a_stale_copy_saved_later_does_not_lower_the_sequence():
    session = SessionFactory(starts_at=NOW + timedelta(days=2))
    stale = type(session).objects.get(pk=session.pk)
    scheduling.session_update(session=session, starts_at=NOW + timedelta(days=4))
    scheduling.session_update(session=stale, location="Room 2")  # same start as it had
    session.refresh_from_db()
    # The stale copy moves it back to its old time: a change, so one more.
    assert session.sequence == 2


def test_feed_times_are_utc_across_the_clocks_going_back(client, settings):
    settings.STUDIO_TIME_ZONE = "Europe/London"
    trainer = TrainerFactory()
    c = ClientFactory(trainer=trainer, timezone="Europe/Madrid")
    before = SessionFactory(client=c, starts_at=datetime(2026, 10, 24, 9, 0, tzinfo=UTC))  # 10:00 BST
    after = SessionFactory(client=c, starts_at=datetime(2026, 10, 26, 10, 0, tzinfo=UTC))  # 10:00 GMT
    found = events(client.get(feed_url(trainer)).content)[1]
    assert found[ics.session_uid(before.pk)]["DTSTART"].to_ical() == b"20261024T090000Z"
    assert found[ics.session_uid(after.pk)]["DTSTART"].to_ical() == b"20261026T100000Z"


def test_rotating_the_secret_revokes_the_old_link(client):
    trainer = TrainerFactory()
    old = feed_url(trainer)
    assert client.get(old).status_code == 200
    calendar_services.feed_rotate(trainer=trainer)
    assert client.get(old).status_code == 404
    assert client.get(feed_url(trainer)).status_code == 200


@pytest.mark.parametrize(
    "token",
    ["", "x", "1", "1.", "99999999999999999999999.abc", "1.bad", "¹.abc", "1:abc"],
)
def test_bad_tokens_are_404_not_500(client, token):
    TrainerFactory()
    assert client.get(f"/calendar/feed/{token}.ics").status_code == 404


def test_a_token_for_one_trainer_does_not_open_another(client):
    anna, ben = TrainerFactory(), TrainerFactory()
    token = calendar_services.feed_token(calendar_services.feed_for(anna))
    calendar_services.feed_for(ben)
    forged = f"{ben.pk}.{token.partition('.')[2]}"
    assert client.get(f"/calendar/feed/{forged}.ics").status_code == 404


def test_a_deactivated_trainers_feed_stops(client):
    trainer = TrainerFactory()
    url = feed_url(trainer)
    trainer.is_active = False
    trainer.save()
    assert client.get(url).status_code == 404


def test_rotate_is_a_post_by_the_trainer_herself(client):
    trainer = TrainerFactory()
    url = feed_url(trainer)
    client.force_login(trainer)
    assert client.get("/calendar/feed/rotate/").status_code == 405
    response = client.post("/calendar/feed/rotate/")
    assert response.status_code == 302
    assert client.get(url).status_code == 404
    page = client.get("/calendar/")
    assert feed_url(trainer) in page.content.decode()


def test_rotate_needs_a_login(client):
    assert client.post("/calendar/feed/rotate/").status_code == 302  # to the login page


def test_invitation_request_then_cancel():
    session = SessionFactory(starts_at=NOW + timedelta(days=2), location="Room, 2")
    request = Calendar.from_ical(ics.client_invitation(session=session, now=NOW))
    assert str(request["METHOD"]) == "REQUEST"
    (event,) = request.walk("VEVENT")
    assert str(event["UID"]) == ics.session_uid(session.pk)
    assert str(event["ATTENDEE"]) == f"mailto:{session.client.email}"
    assert str(event["LOCATION"]) == "Room, 2"
    assert "ORGANIZER" in event

    scheduling.session_cancel(session=session)
    cancel = Calendar.from_ical(ics.client_invitation(session=session, now=NOW))
    assert str(cancel["METHOD"]) == "CANCEL"
    (event,) = cancel.walk("VEVENT")
    assert (str(event["STATUS"]), int(event["SEQUENCE"])) == ("CANCELLED", 1)


def test_long_lines_fold_without_splitting_characters():
    session = SessionFactory(starts_at=NOW + timedelta(days=2), location="Sala de entrenamiento ñ" * 8)
    text = ics.client_invitation(session=session, now=NOW)
    assert all(len(line.encode()) <= 75 for line in text.split("\r\n"))
    (event,) = Calendar.from_ical(text).walk("VEVENT")
    assert str(event["LOCATION"]) == session.location
