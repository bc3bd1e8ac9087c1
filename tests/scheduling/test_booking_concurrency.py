import contextlib
import threading
import zoneinfo
from datetime import datetime, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.utils import timezone

from scheduling import services
from scheduling.models import Session
from tests.factories import ClientFactory, SessionFactory, TrainerFactory
from tests.support.races import race

LONDON = zoneinfo.ZoneInfo("Europe/London")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_simultaneous_bookings_of_one_trainer_slot_book_only_one(monkeypatch):
    trainer = TrainerFactory(username="busy")
    clients = [ClientFactory(trainer=trainer), ClientFactory(trainer=trainer)]
    starts_at = datetime(2027, 2, 1, 9, tzinfo=LONDON)

    # Hold each booking between its clash check and its insert until the other
    # has checked too (or could not, because it waits for the first one's lock).
    barrier = threading.Barrier(2)
    real_find_clashes = services.find_clashes

    def find_clashes_then_wait(**kwargs):
        found = real_find_clashes(**kwargs)
        with contextlib.suppress(threading.BrokenBarrierError):
            barrier.wait(timeout=2)
        return found

    monkeypatch.setattr(services, "find_clashes", find_clashes_then_wait)
    outcomes = []

    def book(client):
        try:
            services.session_book(trainer=trainer, client=client, starts_at=starts_at)
            outcomes.append("booked")
        except ValidationError as exc:
            outcomes.append(exc.messages[0])
        finally:
            connection.close()

    threads = [threading.Thread(target=book, args=(c,)) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert outcomes.count("booked") == 1
    refused = [o for o in outcomes if o != "booked"]
    assert len(refused) == 1
    assert "already has a session at that time" in refused[0]
    assert Session.objects.count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_session_cancelled_while_being_completed_ends_in_one_consistent_state(monkeypatch):
    # An hour ago: a session that has not started cannot be completed at all.
    session = SessionFactory(
        client=ClientFactory(trainer=TrainerFactory(username="t2")),
        starts_at=timezone.now() - timedelta(hours=1),
    )
    outcomes = race(
        monkeypatch,
        services,
        {
            "complete": lambda: services.session_mark_completed(session=Session.objects.get(pk=session.pk)),
            "cancel": lambda: services.session_cancel(session=Session.objects.get(pk=session.pk)),
        },
    )
    assert list(outcomes.values()).count("done") == 1
    session.refresh_from_db()
    if outcomes["cancel"] == "done":
        assert (session.status, outcomes["complete"]) == (
            "cancelled",
            "A cancelled session cannot be marked completed.",
        )
    else:
        assert (session.status, outcomes["cancel"]) == (
            "completed",
            "A completed session cannot be marked cancelled.",
        )
