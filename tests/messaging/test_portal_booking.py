"""Clients book and move sessions in the portal, inside their trainer's availability."""

import contextlib
import threading
from datetime import UTC, datetime, time, timedelta
from urllib.parse import urlsplit

import pytest
import time_machine
from django.db import connection
from django.test import Client as HttpClient
from django.urls import resolve, reverse

from clients.models import Client
from messaging.models import ClientActivity
from messaging.portal.tokens import make_portal_token
from messaging.templating import context_for, render
from scheduling import booking
from scheduling.models import Availability, Session, SessionType, WorkingHours
from tests.factories import ClientFactory, SessionFactory, TrainerFactory

pytestmark = pytest.mark.django_db
NOW = datetime(2027, 3, 1, 8, 0, tzinfo=UTC)  # a Monday, 08:00 in London
SLOT = datetime(2027, 3, 2, 10, 0, tzinfo=UTC)  # Tuesday 10:00 London, a free slot


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


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


def book_url(client, **query):
    url = reverse("portal:book", args=[make_portal_token(client)])
    return f"{url}?type={query['type']}" if query else url


def html(response):
    return response.content.decode()


def test_client_picks_a_type_sees_free_times_in_their_zone_and_books_one(client, client_obj, pt):
    page = client.get(book_url(client_obj))
    assert "Personal training · 60 min" in html(page)
    slots = client.get(book_url(client_obj, type=pt.pk))
    assert "Times are in your time zone: Europe/London (GMT)" in html(slots)
    assert SLOT.isoformat() in html(slots)
    confirm = client.get(
        reverse("portal:book_confirm", args=[make_portal_token(client_obj)]),
        {"type": pt.pk, "at": SLOT.isoformat()},
    )
    assert "Tuesday 2 March 2027, 10:00" in html(confirm)

    response = client.post(book_url(client_obj), {"type": pt.pk, "at": SLOT.isoformat()})

    assert response.status_code == 302
    session = Session.objects.get()
    assert (session.starts_at, session.duration_minutes, session.location) == (SLOT, 60, "Studio B")
    assert (session.booked_by, session.session_type, session.trainer) == ("client", pt, client_obj.trainer)
    assert ClientActivity.objects.get().kind == ClientActivity.Kind.BOOKED
    home = client.get(response.url)
    assert "Booked!" in html(home) and f'id="session-{session.pk}"' in html(home)


def test_times_are_shown_on_the_clients_own_clock(client, trainer, pt):
    faraway = ClientFactory(trainer=trainer, timezone="America/New_York")
    page = html(client.get(book_url(faraway, type=pt.pk)))
    assert "America/New_York (EST)" in page
    assert ">05:00 EST<" in page  # the trainer's 10:00 GMT


def test_a_slot_taken_meanwhile_says_so_and_shows_fresh_times(client, client_obj, trainer, pt):
    SessionFactory(trainer=trainer, client=ClientFactory(trainer=trainer), starts_at=SLOT)
    response = client.post(book_url(client_obj), {"type": pt.pk, "at": SLOT.isoformat()})
    assert response.status_code == 409
    assert "just taken" in html(response)
    assert SLOT.isoformat() not in html(response)
    assert (SLOT + timedelta(hours=2)).isoformat() in html(response)
    assert Session.objects.count() == 1


def test_a_time_outside_the_availability_cannot_be_posted(client, client_obj, pt):
    night = datetime(2027, 3, 2, 23, tzinfo=UTC)
    response = client.post(book_url(client_obj), {"type": pt.pk, "at": night.isoformat()})
    assert response.status_code == 409
    assert not Session.objects.exists()


def test_another_trainers_session_type_cannot_be_booked(client, client_obj, pt, other_trainer):
    theirs = SessionType.objects.create(name="Theirs", trainer=other_trainer)
    assert "Theirs" not in html(client.get(book_url(client_obj)))
    response = client.post(book_url(client_obj), {"type": theirs.pk, "at": SLOT.isoformat()})
    assert response.status_code == 400
    assert not Session.objects.exists()


@pytest.mark.parametrize(
    "switch",
    ["studio_off", "client_off", "inactive"],
)
def test_clients_not_allowed_to_book_online_cannot(client, client_obj, pt, settings, switch):
    if switch == "studio_off":
        settings.PORTAL_SELF_BOOKING = False
    elif switch == "client_off":
        Client.objects.filter(pk=client_obj.pk).update(self_booking=False)
    else:
        Client.objects.filter(pk=client_obj.pk).update(status=Client.Status.INACTIVE)
    home = client.get(reverse("portal:home", args=[make_portal_token(client_obj)]))
    assert "Book a session" not in html(home)
    assert "Personal training" not in html(client.get(book_url(client_obj)))
    response = client.post(book_url(client_obj), {"type": pt.pk, "at": SLOT.isoformat()})
    assert response.status_code == 400
    assert not Session.objects.exists()


def test_client_moves_a_session_to_another_free_time(client, client_obj, trainer, pt):
    session = SessionFactory(
        trainer=trainer, client=client_obj, starts_at=datetime(2027, 3, 4, 9, tzinfo=UTC)
    )
    url = reverse("portal:session_reschedule", args=[make_portal_token(client_obj), session.pk])
    page = html(client.get(url))
    assert SLOT.isoformat() in page
    assert "Move it to" in html(client.get(url, {"at": SLOT.isoformat()}))

    response = client.post(url, {"at": SLOT.isoformat()})

    assert response.status_code == 302
    session.refresh_from_db()
    assert session.starts_at == SLOT and session.sequence == 1
    activity = ClientActivity.objects.get()
    assert activity.kind == ClientActivity.Kind.RESCHEDULED and "2027-03-04 09:00 UTC" in activity.detail


def test_a_session_inside_the_notice_window_cannot_be_moved(client, client_obj, trainer, pt):
    soon = SessionFactory(trainer=trainer, client=client_obj, starts_at=NOW + timedelta(hours=5))
    url = reverse("portal:session_reschedule", args=[make_portal_token(client_obj), soon.pk])
    assert "too late to move" in html(client.get(url))
    response = client.post(url, {"at": SLOT.isoformat()})
    assert response.status_code == 400
    soon.refresh_from_db()
    assert soon.starts_at == NOW + timedelta(hours=5)


def test_another_clients_session_cannot_be_moved(client, client_obj, trainer, pt):
    theirs = SessionFactory(trainer=trainer, client=ClientFactory(trainer=trainer), starts_at=SLOT)
    url = reverse("portal:session_reschedule", args=[make_portal_token(client_obj), theirs.pk])
    assert client.post(url, {"at": (SLOT + timedelta(hours=1)).isoformat()}).status_code == 404


def test_templates_get_a_booking_link_and_who_booked(client_obj, trainer):
    session = SessionFactory(trainer=trainer, client=client_obj, booked_by=Session.BookedBy.CLIENT)
    context = context_for(client=client_obj, session=session)
    assert context["booking_link"].endswith(book_url(client_obj))
    text = '{% if booked_by == "client" %}Thanks for booking online!{% endif %}'
    assert render(text, context) == "Thanks for booking online!"
    session.booked_by = Session.BookedBy.STAFF
    assert render(text, context_for(client=client_obj, session=session)) == ""
    assert resolve(urlsplit(context["booking_link"]).path).url_name == "book"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_clients_posting_the_same_slot_at_once_book_it_once(monkeypatch):
    trainer = TrainerFactory(username="popular")
    open_hours(trainer)
    pt = SessionType.objects.create(name="PT", duration_minutes=60)
    clients = [ClientFactory(trainer=trainer), ClientFactory(trainer=trainer)]

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
            responses.append(HttpClient().post(book_url(client), {"type": pt.pk, "at": SLOT.isoformat()}))
        finally:
            connection.close()

    threads = [threading.Thread(target=post, args=(c,)) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert sorted(r.status_code for r in responses) == [302, 409]
    loser = next(r for r in responses if r.status_code == 409)
    assert "just taken" in html(loser) and SLOT.isoformat() not in html(loser)
    assert Session.objects.filter(starts_at=SLOT).count() == 1


def test_a_session_types_price_is_shown_with_the_currency(client, client_obj, pt, settings):
    # The late-cancel terms quote a percentage of this price as "£22.50"; the type read "45.00".
    from decimal import Decimal

    settings.CURRENCY = "GBP"
    SessionType.objects.filter(pk=pt.pk).update(price=Decimal("45.00"))
    assert "Personal training · 60 min · £45.00" in html(client.get(book_url(client_obj)))
