"""Where the money parts meet: receipts, credits, the policy and Stripe used together."""

from datetime import timedelta

import pytest
import time_machine

from billing import charges, credits
from billing.models import CreditEntry
from billing.policy import Charge, SessionCharge
from scheduling import services as scheduling
from scheduling.models import Session
from tests.factories import ClientFactory, SessionFactory, TrainerFactory, sell_package, set_policy
from tests.support.clock import utc
from tests.support.races import race

pytestmark = pytest.mark.django_db

NOW = utc(2026, 11, 25, 10, 0)


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def credits_of(client) -> int:
    return sum(p.credits_left for p in credits.client_credit_summary(client))


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_waiving_a_credit_no_show_while_it_is_corrected_to_completed_does_not_deadlock(monkeypatch):
    # The correction locks the session, then updates the charge; the waive locked the charge,
    # then the session (to give the credit back): each waited for the other's lock.
    set_policy(no_show_charge=Charge.CREDIT)
    trainer = TrainerFactory(username="seams1")
    client = ClientFactory(trainer=trainer)
    sell_package(client, sessions=5)
    session = SessionFactory(client=client, starts_at=NOW - timedelta(hours=1))
    scheduling.session_mark_no_show(session=session)
    charge = SessionCharge.objects.get()

    outcomes = race(
        monkeypatch,
        charges,
        {
            "waive": lambda: charges.charge_waive(
                charge=SessionCharge.objects.get(pk=charge.pk), by=trainer, reason="Ill"
            ),
            "correct": lambda: scheduling.session_mark_completed(session=Session.objects.get(pk=session.pk)),
        },
        check_name="_undo",
    )

    assert outcomes["correct"] == "done"
    assert outcomes["waive"] in ("done", "This charge has already been waived.")
    charge.refresh_from_db()
    assert charge.is_waived
    # Either way the completed session holds one credit, and nothing else was taken.
    assert CreditEntry.objects.filter(session=session, kind="spend", returned=False).count() == 1
    assert credits_of(client) == 4
