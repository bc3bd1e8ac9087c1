"""The staff calendar's endpoints: events (scoped, bounded queries, clear 400s), booking,
moving by drag and drop, and the session actions."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from clients.services import staff_set_timezone
from scheduling.models import Session
from tests.factories import ClientFactory, ManagerFactory, SessionFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)  # Monday, 09:00 in London
WEEK = {"start": "2026-11-30T00:00:00", "end": "2026-12-07T00:00:00"}


@pytest.fixture(autouse=True)
def frozen(settings):
    settings.STUDIO_TIME_ZONE = settings.TIME_ZONE = "Europe/London"
    with time_machine.travel(NOW, tick=False):
        yield


def at(day, hour, minute=0):
    return datetime(2026, 12, day, hour, minute, tzinfo=UTC)


def ids(response):
    assert response.status_code == 200, response.content
    return {int(e["id"]) for e in response.json()}


# --- Events ------------------------------------------------------------------------------------


def test_a_trainer_sees_her_own_sessions_in_the_window(trainer_client, trainer, other_trainer):
    mine = SessionFactory(client=ClientFactory(trainer=trainer), starts_at=at(1, 10))
    SessionFactory(client=ClientFactory(trainer=trainer), starts_at=at(8, 10))  # next week
    theirs = SessionFactory(client=ClientFactory(trainer=other_trainer), starts_at=at(1, 12))

    assert ids(trainer_client.get("/calendar/events/", WEEK)) == {mine.pk}
    # Asking for another trainer's calendar changes nothing for a trainer.
    response = trainer_client.get("/calendar/events/", {**WEEK, "trainer": other_trainer.pk})
    assert theirs.pk not in ids(response)


def test_event_json_is_fullcalendars_in_the_viewers_wall_clock(trainer_client, trainer):
    client = ClientFactory(trainer=trainer, first_name="Ana", last_name="Ruiz", timezone="Europe/Madrid")
    session = SessionFactory(client=client, starts_at=at(1, 10), duration_minutes=45, location="Room 2")
    (event,) = trainer_client.get("/calendar/events/", WEEK).json()
    assert event["id"] == str(session.pk)
    assert event["title"] == "Ana Ruiz"
    assert (event["start"], event["end"]) == ("2026-12-01T10:00:00", "2026-12-01T10:45:00")
    assert event["classNames"] == ["st-scheduled"] and event["editable"] is True
    props = event["extendedProps"]
    assert props["location"] == "Room 2"
    assert props["startUtc"] == "2026-12-01T10:00:00Z"
    assert props["when"] == "Tue 01 Dec 2026, 10:00–10:45 GMT"
    assert props["clientTime"] == "11:00 CET"
    assert props["inboxUrl"] == f"/inbox/{client.pk}/"
    assert props["actions"] == ["complete", "no-show", "cancel"]


def test_times_are_in_the_viewers_own_zone(trainer_client, trainer):
    SessionFactory(client=ClientFactory(trainer=trainer), starts_at=at(1, 15))
    staff_set_timezone(user=trainer, timezone_name="America/New_York")
    (event,) = trainer_client.get("/calendar/events/", WEEK).json()
    assert event["start"] == "2026-12-01T10:00:00"
    assert event["extendedProps"]["when"].endswith("EST")


def test_statuses_and_cancelled_hidden_unless_asked(trainer_client, trainer):
    c = ClientFactory(trainer=trainer)
    confirmed = SessionFactory(client=c, starts_at=at(1, 8), confirmed_at=NOW)
    done = SessionFactory(client=c, starts_at=NOW - timedelta(hours=3), status=Session.Status.COMPLETED)
    missed = SessionFactory(client=c, starts_at=NOW - timedelta(hours=2), status=Session.Status.NO_SHOW)
    cancelled = SessionFactory(client=c, starts_at=at(2, 9), status=Session.Status.CANCELLED)

    shown = {e["id"]: e for e in trainer_client.get("/calendar/events/", WEEK).json()}
    assert str(cancelled.pk) not in shown
    assert shown[str(confirmed.pk)]["classNames"] == ["st-confirmed"]
    assert shown[str(done.pk)]["classNames"] == ["st-completed"] and not shown[str(done.pk)]["editable"]
    assert shown[str(missed.pk)]["extendedProps"]["actions"] == ["complete"]
    with_cancelled = trainer_client.get("/calendar/events/", {**WEEK, "cancelled": "1"}).json()
    assert {e["id"]: e["classNames"] for e in with_cancelled}[str(cancelled.pk)] == ["st-cancelled"]


def test_a_session_overlapping_the_windows_start_is_included(trainer_client, trainer):
    late = SessionFactory(client=ClientFactory(trainer=trainer), starts_at=at(6, 23, 30), duration_minutes=60)
    nextweek = {"start": "2026-12-07T00:00:00", "end": "2026-12-14T00:00:00"}
    assert late.pk in ids(trainer_client.get("/calendar/events/", WEEK))
    assert late.pk in ids(trainer_client.get("/calendar/events/", nextweek))


def test_a_manager_chooses_several_trainers_each_with_a_colour(manager_client, trainer, other_trainer):
    a = SessionFactory(client=ClientFactory(trainer=trainer), starts_at=at(1, 10))
    b = SessionFactory(client=ClientFactory(trainer=other_trainer), starts_at=at(1, 10))
    response = manager_client.get("/calendar/events/", {**WEEK, "trainer": [trainer.pk, other_trainer.pk]})
    events = {e["id"]: e for e in response.json()}
    assert set(events) == {str(a.pk), str(b.pk)}
    assert events[str(a.pk)]["borderColor"] != events[str(b.pk)]["borderColor"]
    assert ids(manager_client.get("/calendar/events/", {**WEEK, "trainer": trainer.pk})) == {a.pk}


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"start": "2026-11-30"},
        {"start": "yesterday", "end": "2026-12-07"},
        {"start": "2026-13-45", "end": "2026-12-07"},
        {"start": "2026-12-07", "end": "2026-11-30"},
        {"start": "2026-01-01", "end": "2026-12-31"},
        {"start": "0001-01-01", "end": "0001-01-05"},
        {"start": "9999-12-25", "end": "9999-12-31"},
        {"start": "2026-11-30T25:00:00", "end": "2026-12-07"},
        {**WEEK, "trainer": "abc"},
        {**WEEK, "trainer": "99999999999999999999999"},
    ],
)
def test_bad_parameters_are_a_400_with_the_reason(manager_client, params):
    response = manager_client.get("/calendar/events/", params)
    assert response.status_code == 400
    assert response.json()["errors"]


def test_exact_instants_with_an_offset_are_accepted(trainer_client, trainer):
    s = SessionFactory(client=ClientFactory(trainer=trainer), starts_at=at(1, 10))
    window = {"start": "2026-12-01T09:30:00+00:00", "end": "2026-12-01T10:30:00Z"}
    assert ids(trainer_client.get("/calendar/events/", window)) == {s.pk}


def test_events_need_a_staff_login(client):
    assert client.get("/calendar/events/", WEEK).status_code == 403
    assert client.get("/calendar/").status_code == 302


@pytest.mark.parametrize("who", ["trainer", "manager"])
def test_events_answer_in_at_most_five_queries_whatever_the_table_size(
    client, trainer, manager, who, django_assert_max_num_queries
):
    for i in range(30):
        c = ClientFactory(trainer=trainer, timezone="Europe/Madrid" if i % 2 else "")
        SessionFactory(client=c, starts_at=at(1 + i % 6, 6 + i % 12), status=Session.Status.SCHEDULED)
    client.force_login(trainer if who == "trainer" else manager)
    params = {**WEEK, "trainer": [trainer.pk, manager.pk], "cancelled": "1"}
    # The login session, the user, the user's groups, the sessions with their clients
    # and trainers (one join); one spare for the per-user time zone.
    with django_assert_max_num_queries(5):
        response = client.get("/calendar/events/", params)
    assert len(response.json()) == 30


# --- Booking -----------------------------------------------------------------------------------


def test_booking_a_selected_slot(trainer_client, trainer):
    c = ClientFactory(trainer=trainer)
    response = trainer_client.post(
        "/calendar/book/",
        {"client": c.pk, "start": "2026-12-02T10:00:00", "duration": "45", "location": "Park"},
    )
    assert response.status_code == 201, response.content
    session = Session.objects.get(client=c)
    assert (session.starts_at, session.duration_minutes, session.location) == (at(2, 10), 45, "Park")
    assert session.trainer == trainer
    assert response.json()["message"] == f"Booked {c.full_name}, Wed 02 Dec 2026, 10:00–10:45 GMT."


def test_booking_follows_the_clash_rules_and_refuses_the_past(trainer_client, trainer):
    c = ClientFactory(trainer=trainer)
    SessionFactory(client=ClientFactory(trainer=trainer), starts_at=at(2, 10))
    clash = trainer_client.post(
        "/calendar/book/", {"client": c.pk, "start": "2026-12-02T10:30:00", "duration": 60}
    )
    assert clash.status_code == 400
    assert "already has a session at that time" in clash.json()["errors"][0]
    past = trainer_client.post(
        "/calendar/book/", {"client": c.pk, "start": "2026-11-30T08:00:00", "duration": 60}
    )
    assert past.status_code == 400 and "in the past" in past.json()["errors"][0]
    assert not Session.objects.filter(client=c).exists()


def test_a_trainer_cannot_book_another_trainers_client(trainer_client, other_trainer):
    theirs = ClientFactory(trainer=other_trainer)
    response = trainer_client.post(
        "/calendar/book/", {"client": theirs.pk, "start": "2026-12-02T10:00", "duration": 60}
    )
    assert response.status_code == 400 and not Session.objects.exists()


def test_a_manager_books_for_a_trainer(manager_client, trainer):
    c = ClientFactory(trainer=trainer)
    response = manager_client.post(
        "/calendar/book/",
        {"client": c.pk, "trainer": trainer.pk, "start": "2026-12-02T10:00", "duration": 60},
    )
    assert response.status_code == 201
    assert Session.objects.get().trainer == trainer


def test_a_time_the_clock_skips_is_refused(trainer_client, trainer):
    c = ClientFactory(trainer=trainer)
    with time_machine.travel(datetime(2027, 3, 20, tzinfo=UTC)):
        trainer_client.force_login(trainer)  # the login of four months ago has expired
        response = trainer_client.post(
            "/calendar/book/", {"client": c.pk, "start": "2027-03-28T01:30", "duration": 60}
        )
    assert response.status_code == 400 and "clocks change" in response.json()["errors"][0]


@pytest.mark.parametrize("duration", ["", "0", "-5", "721", "abc"])
def test_booking_with_a_bad_duration_is_a_400(trainer_client, trainer, duration):
    c = ClientFactory(trainer=trainer)
    response = trainer_client.post(
        "/calendar/book/", {"client": c.pk, "start": "2026-12-02T10:00", "duration": duration}
    )
    assert response.status_code == 400


def test_writes_need_csrf(client, trainer):
    from django.test import Client as DjangoClient

    strict = DjangoClient(enforce_csrf_checks=True)
    strict.force_login(trainer)
    c = ClientFactory(trainer=trainer)
    response = strict.post("/calendar/book/", {"client": c.pk, "start": "2026-12-02T10:00", "duration": 60})
    assert response.status_code == 403 and not Session.objects.exists()


# --- Moving ------------------------------------------------------------------------------------


def test_dragging_a_session_moves_it_and_raises_its_sequence(trainer_client, trainer):
    session = SessionFactory(client=ClientFactory(trainer=trainer), starts_at=at(1, 10))
    response = trainer_client.post(
        f"/calendar/sessions/{session.pk}/move/",
        {"start": "2026-12-03T14:00:00", "end": "2026-12-03T15:30:00"},
    )
    assert response.status_code == 200, response.content
    session.refresh_from_db()
    assert (session.starts_at, session.duration_minutes, session.sequence) == (at(3, 14), 90, 1)
    assert response.json()["event"]["start"] == "2026-12-03T14:00:00"


def test_a_move_onto_a_clash_or_into_the_past_is_refused_with_the_reason(trainer_client, trainer):
    c = ClientFactory(trainer=trainer)
    session = SessionFactory(client=c, starts_at=at(1, 10))
    SessionFactory(client=ClientFactory(trainer=trainer), starts_at=at(3, 14))
    clash = trainer_client.post(f"/calendar/sessions/{session.pk}/move/", {"start": "2026-12-03T14:30:00"})
    assert clash.status_code == 400 and "already has a session" in clash.json()["errors"][0]
    past = trainer_client.post(f"/calendar/sessions/{session.pk}/move/", {"start": "2026-11-29T14:30:00"})
    assert past.status_code == 400 and "in the past" in past.json()["errors"][0]
    session.refresh_from_db()
    assert (session.starts_at, session.sequence) == (at(1, 10), 0)


def test_a_finished_or_cancelled_session_does_not_move(trainer_client, trainer):
    c = ClientFactory(trainer=trainer)
    done = SessionFactory(client=c, starts_at=NOW - timedelta(hours=2), status=Session.Status.COMPLETED)
    cancelled = SessionFactory(client=c, starts_at=at(2, 9), status=Session.Status.CANCELLED)
    started = SessionFactory(client=c, starts_at=NOW - timedelta(minutes=10))
    for s in (done, cancelled, started):
        response = trainer_client.post(f"/calendar/sessions/{s.pk}/move/", {"start": "2026-12-04T10:00"})
        assert response.status_code == 400, s.status
    cancelled.refresh_from_db()
    assert cancelled.status == Session.Status.CANCELLED


def test_another_trainers_session_is_not_found(trainer_client, other_trainer):
    theirs = SessionFactory(client=ClientFactory(trainer=other_trainer), starts_at=at(1, 10))
    assert (
        trainer_client.post(
            f"/calendar/sessions/{theirs.pk}/move/", {"start": "2026-12-04T10:00"}
        ).status_code
        == 404
    )
    assert trainer_client.post(f"/calendar/sessions/{theirs.pk}/cancel/").status_code == 404


def test_move_is_post_only_and_needs_a_login(client, trainer):
    session = SessionFactory(client=ClientFactory(trainer=trainer), starts_at=at(1, 10))
    assert (
        client.post(f"/calendar/sessions/{session.pk}/move/", {"start": "2026-12-04T10:00"}).status_code
        == 403
    )
    client.force_login(trainer)
    assert client.get(f"/calendar/sessions/{session.pk}/move/").status_code == 405


# --- Actions -----------------------------------------------------------------------------------


def test_actions_run_the_status_services(trainer_client, trainer):
    c = ClientFactory(trainer=trainer)
    past = SessionFactory(client=c, starts_at=NOW - timedelta(hours=3))
    ahead = SessionFactory(client=c, starts_at=at(2, 10))
    assert trainer_client.post(f"/calendar/sessions/{past.pk}/no-show/").status_code == 200
    assert trainer_client.post(f"/calendar/sessions/{ahead.pk}/cancel/").status_code == 200
    again = trainer_client.post(f"/calendar/sessions/{ahead.pk}/complete/")
    assert again.status_code == 400 and "cannot be marked" in again.json()["errors"][0]
    past.refresh_from_db()
    ahead.refresh_from_db()
    assert (past.status, ahead.status, ahead.cancelled_by) == ("no_show", "cancelled", "staff")
    assert trainer_client.post(f"/calendar/sessions/{ahead.pk}/explode/").status_code == 404


# --- The page ----------------------------------------------------------------------------------


def test_the_page_loads_the_vendored_calendar_and_the_header_links_to_it(trainer_client):
    page = trainer_client.get("/calendar/").content.decode()
    assert "scheduling/vendor/fullcalendar-6.1.21/index.global.min.js" in page
    assert "cdn" not in page.lower()
    assert "/calendar/feed/" in page
    admin = trainer_client.get("/admin/").content.decode()
    assert 'href="/calendar/"' in admin


def test_a_manager_who_has_not_picked_sees_the_trainers_not_an_empty_week(
    manager_client, trainer, other_trainer
):
    a = SessionFactory(client=ClientFactory(trainer=trainer), starts_at=at(1, 10))
    b = SessionFactory(client=ClientFactory(trainer=other_trainer), starts_at=at(2, 10))
    assert ids(manager_client.get("/calendar/events/", WEEK)) == {a.pk, b.pk}
    page = manager_client.get("/calendar/").content.decode()
    assert f'value="{trainer.pk}" checked' in page and f'value="{other_trainer.pk}" checked' in page


def test_a_manager_picks_trainers_on_the_page(manager_client, trainer):
    page = manager_client.get("/calendar/", {"trainer": trainer.pk}).content.decode()
    assert f'value="{trainer.pk}" checked' in page


def test_client_search_is_scoped(trainer_client, trainer, other_trainer):
    mine = ClientFactory(trainer=trainer, first_name="Zoe", last_name="Mine")
    ClientFactory(trainer=other_trainer, first_name="Zoe", last_name="Theirs")
    results = trainer_client.get("/calendar/clients/", {"q": "zoe"}).json()["results"]
    assert [r["id"] for r in results] == [mine.pk]


def test_the_vendored_library_has_its_licence():
    from pathlib import Path

    folder = Path(__file__).resolve().parents[2] / "scheduling/static/scheduling/vendor/fullcalendar-6.1.21"
    assert "MIT License" in (folder / "LICENSE.md").read_text()
    assert "FullCalendar Standard Bundle v6.1.21" in (folder / "index.global.min.js").read_text()[:200]


def test_manager_factory_is_a_manager():
    assert ManagerFactory().groups.filter(name="Studio manager").exists()


def test_the_week_the_clocks_go_back_shows_every_session_at_its_wall_clock_time(trainer_client, trainer):
    c = ClientFactory(trainer=trainer, timezone="Europe/Madrid")
    before = SessionFactory(client=c, starts_at=datetime(2026, 10, 24, 9, 0, tzinfo=UTC))  # 10:00 BST
    after = SessionFactory(client=c, starts_at=datetime(2026, 10, 26, 10, 0, tzinfo=UTC))  # 10:00 GMT
    with time_machine.travel(datetime(2026, 10, 20, tzinfo=UTC)):
        trainer_client.force_login(trainer)
        events = {
            e["id"]: e
            for e in trainer_client.get(
                "/calendar/events/", {"start": "2026-10-19T00:00:00", "end": "2026-11-02T00:00:00"}
            ).json()
        }
    assert events[str(before.pk)]["start"] == "2026-10-24T10:00:00"
    assert events[str(after.pk)]["start"] == "2026-10-26T10:00:00"
    assert events[str(before.pk)]["extendedProps"]["when"].endswith("BST")
    assert events[str(after.pk)]["extendedProps"]["clientTime"] == "11:00 CET"
    # A window given as wall-clock dates spans the 25-hour day.
    assert events[str(before.pk)]["extendedProps"]["startUtc"] == "2026-10-24T09:00:00Z"


def test_the_show_cancelled_choice_is_kept_in_the_address(trainer_client):
    assert (
        'name="cancelled" value="1" checked'
        in trainer_client.get("/calendar/", {"cancelled": "1"}).content.decode()
    )
    assert 'name="cancelled" value="1" checked' not in trainer_client.get("/calendar/").content.decode()
