"""Credits under concurrency (PostgreSQL, real threads): a credit is spent once."""

from datetime import date, timedelta

import pytest
from django.utils import timezone

from billing import credits
from billing.models import CreditEntry
from scheduling import services as sessions
from scheduling.models import Session
from tests.factories import ClientFactory, SessionFactory, TrainerFactory, sell_package
from tests.support.races import race

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _complete(pk):
    return lambda: sessions.session_mark_completed(session=Session.objects.get(pk=pk))


def test_two_workers_completing_the_same_session_spend_one_credit(monkeypatch):
    client = ClientFactory(trainer=TrainerFactory(username="t1"))
    package = sell_package(client, sessions=5, bought_on=date.today() - timedelta(days=7))
    session = SessionFactory(client=client, starts_at=timezone.now() - timedelta(hours=2))
    outcomes = race(monkeypatch, sessions, {"a": _complete(session.pk), "b": _complete(session.pk)})
    assert sorted(outcomes.values()) == ["A completed session cannot be marked completed.", "done"]
    assert CreditEntry.objects.filter(kind=CreditEntry.Kind.SPEND, session=session).count() == 1
    assert credits.credits_left(package) == 4


def test_two_sessions_completing_at_once_against_one_last_credit_spend_it_once(monkeypatch):
    client = ClientFactory(trainer=TrainerFactory(username="t1"))
    package = sell_package(client, sessions=1, bought_on=date.today() - timedelta(days=7))
    first, second = (
        SessionFactory(client=client, starts_at=timezone.now() - timedelta(hours=hours)) for hours in (2, 4)
    )
    # Both status checks pass (different sessions), then both reach the package at once.
    outcomes = race(monkeypatch, sessions, {"first": _complete(first.pk), "second": _complete(second.pk)})
    assert outcomes == {"first": "done", "second": "done"}
    spends = CreditEntry.objects.filter(kind=CreditEntry.Kind.SPEND)
    assert spends.count() == 1
    assert credits.credits_left(package) == 0
    assert Session.objects.filter(status=Session.Status.COMPLETED).count() == 2


def test_the_database_holds_one_open_spend_even_without_the_session_lock(monkeypatch):
    """Two spends for one session racing past the Python check: the unique row keeps one."""
    client = ClientFactory(trainer=TrainerFactory(username="t1"))
    package = sell_package(client, sessions=5, bought_on=date.today() - timedelta(days=7))
    session = SessionFactory(client=client, starts_at=timezone.now() - timedelta(hours=2))
    monkeypatch.setattr(credits, "_lock_session", lambda session: None)
    outcomes = race(
        monkeypatch,
        credits,
        {
            "a": lambda: credits.credit_spend(session=session, reason="a"),
            "b": lambda: credits.credit_spend(session=session, reason="b"),
        },
        check_name="open_spend",
    )
    assert outcomes == {"a": "done", "b": "done"}
    assert credits.credits_left(package) == 4
