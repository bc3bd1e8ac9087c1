"""Filling cancelled slots: clients ask to be told, a cancellation offers the time, first to book wins."""

import contextlib
import threading
from datetime import UTC, date, datetime, time, timedelta
from urllib.parse import urlsplit

import pytest
import time_machine
from django.db import connection, transaction
from django.test import Client as HttpClient
from django.urls import resolve, reverse

from clients.models import Category, Channel, Client
from messaging import waitlist as offers
from messaging.delivery import deliver_due
from messaging.models import ClientActivity, Message, SlotOffer
from messaging.portal.tokens import make_portal_token
from scheduling import booking, services
from scheduling.calendar.services import calendar_move
from scheduling.models import Availability, Session, SessionType, WaitlistRequest, WorkingHours
from scheduling.waitlist import waitlist_join
from tests.factories import ClientFactory, SessionFactory, TrainerFactory

pytestmark = pytest.mark.django_db
NOW = datetime(2027, 3, 1, 8, 0, tzinfo=UTC)  # Monday 1 March, 08:00 in London
SLOT = datetime(2027, 3, 2, 10, 0, tzinfo=UTC)  # Tuesday 10:00 London: booked, then cancelled
WEEK = {"from_date": date(2027, 3, 1), "until_date": date(2027, 3, 7)}


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def open_hours(trainer, **rules):
    av = Availability.objects.create(
        trainer=trainer, minimum_notice_hours=12, slot_interval_minutes=60, **rules
    )
    WorkingHours.objects.bulk_create(
        WorkingHours(availability=av, weekday=d, start_time=time(9), end_time=time(17)) for d in range(5)
    )
    return av


@pytest.fixture
def pt(trainer):
    open_hours(trainer)
    return SessionType.objects.create(name="Personal training", duration_minutes=60, location="Studio B")


@pytest.fixture
def booked(trainer, pt):
    """The session that will be cancelled: another client's, Tuesday 10:00."""
    return SessionFactory(client=ClientFactory(trainer=trainer), starts_at=SLOT, session_type=pt)


def waiting(trainer, channel=Channel.SMS, **fields):
    client = ClientFactory(trainer=trainer, **fields.pop("client", {}))
    waitlist_join(client=client, channel=channel, **{**WEEK, **fields})
    return client


def cancel(session, capture):
    with capture(execute=True):
        services.session_cancel(session=Session.objects.get(pk=session.pk))


def offered_to(*clients):
    return set(
        SlotOffer.objects.filter(request__client__in=clients).values_list("request__client", flat=True)
    )


def portal(client, name, *args):
    return reverse(f"portal:{name}", args=[make_portal_token(client), *args])


def html(response):
    return response.content.decode()


# --- Who gets an offer ----------------------------------------------------------------------


def test_each_waiting_client_the_time_suits_gets_one_offer_by_their_channel(
    trainer, booked, q_sync, django_capture_on_commit_callbacks
):
    by_sms = waiting(trainer, Channel.SMS, client={"first_name": "Ana"})
    by_email = waiting(trainer, Channel.EMAIL, client={"first_name": "Bea"})

    cancel(booked, django_capture_on_commit_callbacks)

    sms = Message.objects.get(client=by_sms)
    assert (sms.channel, sms.category, sms.not_after) == (
        "sms",
        Category.TRANSACTIONAL,
        SLOT - timedelta(hours=12),
    )
    assert sms.body.startswith("Hi Ana, a time just opened up with ")
    assert "Tue 2 Mar, 10:00 (Personal training, 60 min). First to book gets it: " in sms.body
    email = Message.objects.get(client=by_email)
    assert (email.channel, email.subject) == ("email", "A time opened up: Tue 2 Mar, 10:00")
    assert "Tue 2 Mar, 10:00 — Personal training, 60 min, Studio B" in email.body
    offer = SlotOffer.objects.get(request__client=by_sms)
    assert (offer.starts_at, offer.duration_minutes, offer.message, offer.freed_session_id) == (
        SLOT,
        60,
        sms,
        booked.pk,
    )
    link = sms.body.rsplit(" ", 1)[-1]
    assert resolve(urlsplit(link).path).url_name == "offer"


def test_no_offer_outside_the_window_or_to_clients_who_may_not_book_or_cannot_be_reached(
    trainer, other_trainer, booked, q_sync, django_capture_on_commit_callbacks, settings
):
    suited = waiting(trainer)
    later = waiting(trainer, from_date=date(2027, 3, 3), until_date=date(2027, 3, 5))
    paused = waiting(trainer)
    Client.objects.filter(pk=paused.pk).update(status=Client.Status.INACTIVE)
    not_online = waiting(trainer)
    Client.objects.filter(pk=not_online.pk).update(self_booking=False)
    stopped = waiting(trainer, Channel.SMS)
    Client.objects.filter(pk=stopped.pk).update(sms_opted_out_at=NOW)  # texted STOP after asking
    no_reminders = waiting(trainer, Channel.EMAIL)
    Client.objects.filter(pk=no_reminders.pk).update(email_reminders=False)
    withdrawn = waiting(trainer)
    withdrawn.waitlist_requests.update(status=WaitlistRequest.Status.WITHDRAWN)
    open_hours(other_trainer)
    elsewhere = waiting(other_trainer)
    # The client who cancelled does not get their own time back.
    WaitlistRequest.objects.create(client=booked.client, trainer=trainer, channel="sms", **WEEK)

    cancel(booked, django_capture_on_commit_callbacks)

    everyone = [suited, later, paused, not_online, stopped, no_reminders, withdrawn, elsewhere, booked.client]
    assert offered_to(*everyone) == {suited.pk}
    assert Message.objects.count() == 1


def test_online_booking_switched_off_for_the_studio_offers_nothing(
    trainer, booked, q_sync, django_capture_on_commit_callbacks, settings
):
    waiting(trainer)
    settings.PORTAL_SELF_BOOKING = False
    cancel(booked, django_capture_on_commit_callbacks)
    assert not SlotOffer.objects.exists()


def test_a_time_inside_the_notice_window_is_not_offered(
    trainer, pt, q_sync, django_capture_on_commit_callbacks
):
    soon = SessionFactory(client=ClientFactory(trainer=trainer), starts_at=NOW + timedelta(hours=6))  # 14:00
    waiting(trainer)
    cancel(soon, django_capture_on_commit_callbacks)
    assert not SlotOffer.objects.exists() and not Message.objects.exists()


def test_a_type_that_does_not_fit_the_freed_time_is_not_offered(
    trainer, pt, booked, q_sync, django_capture_on_commit_callbacks
):
    SessionFactory(client=ClientFactory(trainer=trainer), starts_at=SLOT + timedelta(hours=1))  # 11:00 busy
    long = SessionType.objects.create(name="Long session", duration_minutes=120)
    wants_long = waiting(trainer, session_type_id=long.pk)
    wants_any = waiting(trainer)

    cancel(booked, django_capture_on_commit_callbacks)

    assert offered_to(wants_long, wants_any) == {wants_any.pk}
    assert SlotOffer.objects.get().session_type == pt


def test_a_client_with_another_session_at_that_time_is_not_offered_it(
    trainer, booked, q_sync, django_capture_on_commit_callbacks
):
    busy = waiting(trainer)
    # With another trainer, at the same hour.
    SessionFactory(client=busy, trainer=TrainerFactory(), starts_at=SLOT + timedelta(minutes=30))
    cancel(booked, django_capture_on_commit_callbacks)
    assert not SlotOffer.objects.exists()


def test_offers_are_made_once_however_often_the_task_runs_or_the_time_is_freed(
    trainer, pt, booked, q_sync, django_capture_on_commit_callbacks
):
    first, second = waiting(trainer), waiting(trainer)
    cancel(booked, django_capture_on_commit_callbacks)
    assert SlotOffer.objects.count() == 2

    # A retried task, and the same time booked by staff and cancelled again.
    assert offers.offer_freed_slot(session_id=booked.pk) == []
    again = services.session_book(trainer=trainer, client=ClientFactory(trainer=trainer), starts_at=SLOT)
    cancel(again, django_capture_on_commit_callbacks)

    assert SlotOffer.objects.count() == 2
    assert Message.objects.filter(client__in=[first, second]).count() == 2


def test_every_road_that_cancels_queues_the_offers(
    trainer, booked, q_sync, django_capture_on_commit_callbacks
):
    # The series action cancels occurrence by occurrence through session_cancel.
    Session.objects.filter(pk=booked.pk).update(series="6f1c1f5e-0000-4000-8000-000000000001")
    booked.refresh_from_db()
    client = waiting(trainer)
    with django_capture_on_commit_callbacks(execute=True):
        services.series_cancel_following(session=booked)
    assert offered_to(client) == {client.pk}


def test_a_rolled_back_cancellation_offers_nothing(
    trainer, booked, q_sync, django_capture_on_commit_callbacks
):
    waiting(trainer)
    with (
        django_capture_on_commit_callbacks(execute=True),
        contextlib.suppress(RuntimeError),
        transaction.atomic(),
    ):
        services.session_cancel(session=Session.objects.get(pk=booked.pk))
        raise RuntimeError("the request failed after cancelling")
    assert not SlotOffer.objects.exists()


def test_an_offer_sms_in_the_clients_quiet_hours_waits_for_the_morning(
    trainer, pt, q_sync, django_capture_on_commit_callbacks, frozen
):
    # Monday 23:00 London: a session on Wednesday 14:00 is cancelled.
    frozen.move_to(datetime(2027, 3, 1, 23, 0, tzinfo=UTC))
    wednesday = SessionFactory(
        client=ClientFactory(trainer=trainer), starts_at=datetime(2027, 3, 3, 14, tzinfo=UTC)
    )
    client = waiting(trainer, Channel.SMS)
    cancel(wednesday, django_capture_on_commit_callbacks)

    deliver_due(limit=10)

    sms = Message.objects.get(client=client)
    assert sms.status == Message.Status.QUEUED
    assert sms.next_attempt_at == datetime(2027, 3, 2, 8, 0, tzinfo=UTC)  # 08:00 in London


# --- Asking and withdrawing in the portal ----------------------------------------------------


def test_client_asks_to_be_told_and_withdraws_in_the_portal(client, client_obj, pt):
    page = client.get(portal(client_obj, "waitlist"))
    assert "Tell me when a time opens up" in html(page)
    assert f"Text message to {client_obj.phone}" in html(page) and f"Email to {client_obj.email}" in html(
        page
    )
    assert 'value="2027-03-01"' in html(page) and 'value="2027-03-07"' in html(page)

    response = client.post(
        portal(client_obj, "waitlist"),
        {"from_date": "2027-03-02", "until_date": "2027-03-05", "session_type": pt.pk, "channel": "email"},
    )

    assert response.status_code == 302
    request = WaitlistRequest.objects.get()
    assert (request.trainer, request.session_type, request.channel, request.status) == (
        client_obj.trainer,
        pt,
        "email",
        "waiting",
    )
    activity = ClientActivity.objects.get()
    assert (activity.kind, activity.detail) == (
        ClientActivity.Kind.WAITLIST_JOINED,
        "Tue 2 Mar – Fri 5 Mar, Personal training, by Email",
    )
    home = html(client.get(response.url))
    assert (
        "You asked to hear when a time opens up:</strong> Tue 2 Mar – Fri 5 Mar, Personal training, by Email"
        in home
    )

    client.post(portal(client_obj, "waitlist_withdraw", request.pk))
    request.refresh_from_db()
    assert request.status == "withdrawn" and request.ended_at == NOW
    assert "Tell me when a time opens up" in html(client.get(portal(client_obj, "home")))


def test_asking_again_replaces_the_waiting_request(client_obj, pt):
    first = waitlist_join(client=client_obj, channel="sms", **WEEK)
    second = waitlist_join(
        client=client_obj, channel="email", from_date=date(2027, 3, 3), until_date=date(2027, 3, 4)
    )
    first.refresh_from_db()
    assert (first.status, second.status) == ("withdrawn", "waiting")


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"from_date": "2027-02-28", "until_date": "2027-03-03"}, "Choose a first day from today on."),
        ({"from_date": "2027-03-05", "until_date": "2027-03-03"}, "The last day comes after the first day."),
        (
            {"from_date": "2027-03-01", "until_date": "2027-06-01"},
            "Sessions can be booked up to Monday 26 April: choose a last day until then.",
        ),
    ],
)
def test_a_window_outside_today_and_the_horizon_is_refused(client, client_obj, pt, fields, error):
    response = client.post(portal(client_obj, "waitlist"), {**fields, "channel": "sms"})
    assert response.status_code == 400 and error in html(response)
    assert not WaitlistRequest.objects.exists()


def test_a_client_we_cannot_reach_quickly_is_told_why(client, trainer, pt):
    unreachable = ClientFactory(trainer=trainer, email="", sms_reminders=False)
    page = html(client.get(portal(unreachable, "waitlist")))
    assert "We have no way to reach you quickly" in page and 'id="waitlist-form"' not in page
    response = client.post(portal(unreachable, "waitlist"), {**WEEK, "channel": "sms"})
    assert response.status_code == 400 and not WaitlistRequest.objects.exists()


def test_a_client_who_may_not_book_online_cannot_ask(client, client_obj, pt):
    Client.objects.filter(pk=client_obj.pk).update(self_booking=False)
    page = html(client.get(portal(client_obj, "waitlist")))
    assert "Please contact your trainer to book a session." in page and 'id="waitlist-form"' not in page


# --- First to book wins --------------------------------------------------------------------


def test_first_to_book_gets_the_time_the_others_see_it_taken(
    client, trainer, pt, booked, q_sync, django_capture_on_commit_callbacks
):
    fast, slow = waiting(trainer), waiting(trainer)
    cancel(booked, django_capture_on_commit_callbacks)
    fast_offer, slow_offer = (SlotOffer.objects.get(request__client=c) for c in (fast, slow))

    page = html(client.get(portal(fast, "offer", fast_offer.pk)))
    assert "A time opened up" in page and "Tuesday 2 March 2027, 10:00" in page
    assert "Times are in your time zone: Europe/London (GMT)." in page and 'id="book-offer"' in page

    response = client.post(portal(fast, "offer", fast_offer.pk))

    assert response.status_code == 302
    session = Session.objects.get(status="scheduled", starts_at=SLOT)
    assert (session.client, session.booked_by, session.session_type) == (fast, "client", pt)
    fast_offer.refresh_from_db()
    slow_offer.refresh_from_db()
    assert (fast_offer.status, fast_offer.booked_session, slow_offer.status) == ("booked", session, "taken")
    request = fast.waitlist_requests.get()
    assert (request.status, request.booked_session) == ("booked", session)
    assert ClientActivity.objects.get(client=fast, kind="booked").detail == "from a waitlist offer"

    late = client.get(portal(slow, "offer", slow_offer.pk))
    assert "This time has just been taken" in html(late) and 'id="book-offer"' not in html(late)
    other_times = reverse("portal:book", args=[make_portal_token(slow)]) + f"?type={pt.pk}"
    assert f'href="{other_times}"' in html(late)
    too_late = client.post(portal(slow, "offer", slow_offer.pk))
    assert too_late.status_code == 409 and "Sorry, this time has just been taken." in html(too_late)
    assert Session.objects.filter(status="scheduled", starts_at=SLOT).count() == 1
    # Booking it again from the same link changes nothing.
    assert "You booked this time" in html(client.get(portal(fast, "offer", fast_offer.pk)))


def test_a_time_booked_through_the_ordinary_page_shows_the_offer_taken(
    client, trainer, pt, booked, q_sync, django_capture_on_commit_callbacks
):
    waiter = waiting(trainer)
    cancel(booked, django_capture_on_commit_callbacks)
    booking.client_book_session(client=ClientFactory(trainer=trainer), session_type_id=pt.pk, starts_at=SLOT)
    offer = SlotOffer.objects.get()
    assert "This time has just been taken" in html(client.get(portal(waiter, "offer", offer.pk)))


def test_an_offer_expires_when_the_time_starts(
    client, trainer, pt, booked, q_sync, django_capture_on_commit_callbacks, frozen
):
    waiter = waiting(trainer)
    cancel(booked, django_capture_on_commit_callbacks)
    offer = SlotOffer.objects.get()
    frozen.move_to(SLOT + timedelta(minutes=1))
    page = client.get(portal(waiter, "offer", offer.pk))
    assert "This time has passed" in html(page) and 'id="book-offer"' not in html(page)
    response = client.post(portal(waiter, "offer", offer.pk))
    assert response.status_code == 409 and "This time has passed." in html(response)
    assert not Session.objects.filter(status="scheduled", starts_at=SLOT).exists()


def test_an_answered_request_gets_no_more_offers(
    client, trainer, pt, booked, q_sync, django_capture_on_commit_callbacks
):
    waiter = waiting(trainer)
    cancel(booked, django_capture_on_commit_callbacks)
    client.post(portal(waiter, "offer", SlotOffer.objects.get().pk))
    thursday = SessionFactory(client=ClientFactory(trainer=trainer), starts_at=SLOT + timedelta(days=2))
    cancel(thursday, django_capture_on_commit_callbacks)
    assert SlotOffer.objects.count() == 1


def test_another_clients_offer_is_not_found(
    client, trainer, pt, booked, q_sync, django_capture_on_commit_callbacks
):
    waiter = waiting(trainer)
    cancel(booked, django_capture_on_commit_callbacks)
    offer = SlotOffer.objects.get()
    stranger = ClientFactory(trainer=trainer)
    assert client.get(portal(stranger, "offer", offer.pk)).status_code == 404
    assert client.post(portal(stranger, "offer", offer.pk)).status_code == 404
    assert client.get(portal(waiter, "offer", offer.pk)).status_code == 200


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_clients_booking_one_offered_time_at_once_book_it_once(monkeypatch, q_sync):
    trainer = TrainerFactory(username="wanted")
    open_hours(trainer)
    pt = SessionType.objects.create(name="PT", duration_minutes=60)
    cancelled = SessionFactory(client=ClientFactory(trainer=trainer), starts_at=SLOT, session_type=pt)
    clients = [waiting(trainer), waiting(trainer)]
    services.session_cancel(session=cancelled)  # autocommit: the offers are made at once
    assert SlotOffer.objects.count() == 2

    # Hold each booking just after its free-slot check until the other has checked too
    # (or could not, because it waits for the trainer's lock: then the barrier times out).
    barrier = threading.Barrier(2)
    real_check = booking.is_free_slot

    def check_then_wait(**kwargs):
        free = real_check(**kwargs)
        with contextlib.suppress(threading.BrokenBarrierError):
            barrier.wait(timeout=2)
        return free

    monkeypatch.setattr(booking, "is_free_slot", check_then_wait)
    responses = []

    def post(client):
        try:
            offer = SlotOffer.objects.get(request__client=client)
            responses.append(HttpClient().post(portal(client, "offer", offer.pk)))
        finally:
            connection.close()

    threads = [threading.Thread(target=post, args=(c,)) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert sorted(r.status_code for r in responses) == [302, 409]
    loser = next(r for r in responses if r.status_code == 409)
    assert "Sorry, this time has just been taken." in html(loser)
    assert Session.objects.filter(status="scheduled", starts_at=SLOT).count() == 1
    assert sorted(SlotOffer.objects.values_list("status", flat=True)) == ["booked", "taken"]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_offer_runs_at_once_offer_each_client_once(q_sync):
    trainer = TrainerFactory(username="twice")
    open_hours(trainer)
    SessionType.objects.create(name="PT", duration_minutes=60)
    cancelled = SessionFactory(client=ClientFactory(trainer=trainer), starts_at=SLOT)
    for _ in range(3):
        waiting(trainer)
    Session.objects.filter(pk=cancelled.pk).update(status="cancelled")
    barrier = threading.Barrier(2)
    made = []

    def run():
        try:
            barrier.wait(timeout=5)
            made.append(len(offers.offer_freed_slot(session_id=cancelled.pk)))
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert sum(made) == 3
    assert SlotOffer.objects.count() == 3 and Message.objects.count() == 3


# --- What staff see --------------------------------------------------------------------------


def test_trainers_see_their_own_clients_requests_and_offers_in_the_admin(
    trainer_client, trainer, other_trainer, booked, q_sync, django_capture_on_commit_callbacks
):
    mine = waiting(trainer, client={"first_name": "Mine"})
    open_hours(other_trainer)
    theirs = waiting(other_trainer, client={"first_name": "Theirs"})
    cancel(booked, django_capture_on_commit_callbacks)

    listing = html(trainer_client.get(reverse("admin:scheduling_waitlistrequest_changelist")))
    assert "Mine" in listing and "Theirs" not in listing
    request = mine.waitlist_requests.get()
    page = trainer_client.get(reverse("admin:scheduling_waitlistrequest_change", args=[request.pk]))
    assert page.status_code == 200
    assert "Tue 02 Mar 2027 10:00 GMT" in html(page) and "SMS · Sent" in html(page)
    other = theirs.waitlist_requests.get()
    assert (
        trainer_client.get(reverse("admin:scheduling_waitlistrequest_change", args=[other.pk])).status_code
        == 302
    )

    trainer_client.post(
        reverse("admin:scheduling_waitlistrequest_changelist"),
        {"action": "withdraw", "_selected_action": [request.pk, other.pk]},
    )
    request.refresh_from_db()
    other.refresh_from_db()
    assert (request.status, other.status) == ("withdrawn", "waiting")


# --- A moved session frees its old time too -------------------------------------------------

WEDNESDAY = SLOT + timedelta(days=1)  # Wednesday 10:00 London


def _portal_reschedule(session):
    booking.client_reschedule_session(client=session.client, session_id=session.pk, starts_at=WEDNESDAY)


def _calendar_move(session):
    calendar_move(session=Session.objects.get(pk=session.pk), starts_at=WEDNESDAY, duration_minutes=60)


def _admin_edit(session):
    # The admin's change form: the edited row through session_save.
    edited = Session.objects.get(pk=session.pk)
    edited.starts_at = WEDNESDAY
    services.session_save(session=edited)


def _series_move(session):
    Session.objects.filter(pk=session.pk).update(series="6f1c1f5e-0000-4000-8000-000000000002")
    services.series_move_following(session=Session.objects.get(pk=session.pk), weekday=2)


@pytest.mark.parametrize("move", [_portal_reschedule, _calendar_move, _admin_edit, _series_move])
def test_a_moved_session_offers_its_old_time_like_a_cancellation(
    move, trainer, booked, q_sync, django_capture_on_commit_callbacks
):
    waiter = waiting(trainer, client={"first_name": "Ana"})
    # The client who moved does not get their own old time offered back.
    WaitlistRequest.objects.create(client=booked.client, trainer=trainer, channel="sms", **WEEK)

    with django_capture_on_commit_callbacks(execute=True):
        move(booked)

    assert Session.objects.get(pk=booked.pk).starts_at == WEDNESDAY
    offer = SlotOffer.objects.get()
    assert (offer.request.client, offer.starts_at, offer.freed_session_id) == (waiter, SLOT, booked.pk)
    assert "Tue 2 Mar, 10:00 (Personal training, 60 min)" in Message.objects.get(client=waiter).body


def test_a_shortened_session_offers_the_time_it_gave_up(
    trainer, pt, q_sync, django_capture_on_commit_callbacks
):
    long = SessionFactory(client=ClientFactory(trainer=trainer), starts_at=SLOT, duration_minutes=120)
    waiter = waiting(trainer)
    with django_capture_on_commit_callbacks(execute=True):
        services.session_update(session=Session.objects.get(pk=long.pk), duration_minutes=60)
    assert list(SlotOffer.objects.values_list("request__client", "starts_at")) == [
        (waiter.pk, SLOT + timedelta(hours=1))
    ]


def test_editing_a_session_without_moving_it_offers_nothing(
    trainer, booked, q_sync, django_capture_on_commit_callbacks
):
    waiting(trainer)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        services.session_update(session=Session.objects.get(pk=booked.pk), notes="Bring the kettlebell")
    assert not callbacks and not SlotOffer.objects.exists()


def test_a_rolled_back_move_offers_nothing(trainer, booked, q_sync, django_capture_on_commit_callbacks):
    waiting(trainer)
    with (
        django_capture_on_commit_callbacks(execute=True),
        contextlib.suppress(RuntimeError),
        transaction.atomic(),
    ):
        services.session_update(session=Session.objects.get(pk=booked.pk), starts_at=WEDNESDAY)
        raise RuntimeError("the request failed after moving")
    assert not SlotOffer.objects.exists()


def test_deleting_a_session_offers_nothing(trainer, booked, q_sync, django_capture_on_commit_callbacks):
    # A decision, not a gap: the admin's delete is for a session entered by mistake
    # (nobody lost a time); a session that will not happen is cancelled, which offers it.
    waiting(trainer)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        Session.objects.get(pk=booked.pk).delete()
    assert not callbacks and not SlotOffer.objects.exists()


# --- A waiting client who books anyway -------------------------------------------------------

ELEVEN = SLOT + timedelta(hours=1)  # Tuesday 11:00 London, free


def test_booking_on_the_booking_page_inside_the_window_ends_the_request(
    client, trainer, pt, booked, q_sync, django_capture_on_commit_callbacks
):
    waiter = waiting(trainer)

    response = client.post(portal(waiter, "book"), {"type": pt.pk, "at": ELEVEN.isoformat()})

    assert response.status_code == 302
    session = Session.objects.get(client=waiter)
    request = waiter.waitlist_requests.get()
    assert (request.status, request.booked_session, request.ended_at) == ("booked", session, NOW)
    home = html(client.get(portal(waiter, "home")))
    assert "You booked Tue 2 Mar, 11:00 — we have stopped looking for a time." in home
    assert 'id="withdraw-waitlist"' not in home
    # The cancellation that would have suited them offers nothing.
    cancel(booked, django_capture_on_commit_callbacks)
    assert not SlotOffer.objects.exists()


def test_staff_booking_for_a_waiting_client_inside_the_window_ends_the_request(trainer, pt):
    waiter = waiting(trainer)
    session = services.session_book(trainer=trainer, client=waiter, starts_at=ELEVEN)
    request = waiter.waitlist_requests.get()
    assert (request.status, request.booked_session) == ("booked", session)


def test_a_booking_outside_the_window_or_of_another_type_or_a_move_keeps_the_request(trainer, pt):
    long = SessionType.objects.create(name="Long session", duration_minutes=120)
    waiter = waiting(trainer, session_type_id=pt.pk)
    next_week = services.session_book(trainer=trainer, client=waiter, starts_at=ELEVEN + timedelta(days=7))
    booking.client_book_session(client=waiter, session_type_id=long.pk, starts_at=ELEVEN + timedelta(hours=2))
    # They asked while already having a session; moving it into the window is not a new one.
    services.session_update(session=next_week, starts_at=ELEVEN)
    assert waiter.waitlist_requests.get().status == "waiting"


# --- A freed time booked another way ---------------------------------------------------------


def _book_on_the_page(trainer, pt):
    booking.client_book_session(client=ClientFactory(trainer=trainer), session_type_id=pt.pk, starts_at=SLOT)


def _staff_book(trainer, pt):
    services.session_book(trainer=trainer, client=ClientFactory(trainer=trainer), starts_at=SLOT)


def _staff_move_in(trainer, pt):
    other = SessionFactory(client=ClientFactory(trainer=trainer), starts_at=SLOT + timedelta(days=3))
    services.session_update(session=other, starts_at=SLOT - timedelta(minutes=30))  # overlaps 10:00–10:30


@pytest.mark.parametrize("take", [_book_on_the_page, _staff_book, _staff_move_in])
def test_a_freed_time_booked_another_way_marks_its_open_offers_taken(
    take, trainer, pt, booked, q_sync, django_capture_on_commit_callbacks
):
    waiting(trainer), waiting(trainer)
    cancel(booked, django_capture_on_commit_callbacks)
    wednesday = SessionFactory(client=ClientFactory(trainer=trainer), starts_at=WEDNESDAY)
    waiting_too = waiting(trainer)
    cancel(wednesday, django_capture_on_commit_callbacks)
    assert SlotOffer.objects.filter(status="open").count() == 5

    take(trainer, pt)

    # Tuesday's offers are taken; Wednesday's, a time still free, stay open.
    assert set(SlotOffer.objects.values_list("starts_at", "status")) == {(SLOT, "taken"), (WEDNESDAY, "open")}
    assert SlotOffer.objects.filter(request__client=waiting_too).count() == 1


def test_a_time_freed_again_reopens_its_taken_offers_without_a_second_message(
    client, trainer, pt, booked, q_sync, django_capture_on_commit_callbacks
):
    waiter = waiting(trainer)
    cancel(booked, django_capture_on_commit_callbacks)
    again = services.session_book(trainer=trainer, client=ClientFactory(trainer=trainer), starts_at=SLOT)
    assert SlotOffer.objects.get().status == "taken"

    cancel(again, django_capture_on_commit_callbacks)

    offer = SlotOffer.objects.get()
    assert offer.status == "open" and Message.objects.filter(client=waiter).count() == 1
    assert 'id="book-offer"' in html(client.get(portal(waiter, "offer", offer.pk)))


def test_a_booking_costs_no_extra_query_when_nobody_waits(trainer, pt, django_assert_num_queries):
    customer = ClientFactory(trainer=trainer)
    # savepoint; lock the trainer's and the client's rows; the clash check; insert; release
    with django_assert_num_queries(6):
        services.session_book(trainer=trainer, client=customer, starts_at=SLOT)
