import pytest

from billing import services
from billing.models import Payment
from tests.factories import ClientFactory, PaymentFactory, TrainerFactory
from tests.support.races import race


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_payment_cancelled_while_being_marked_paid_ends_in_one_consistent_state(monkeypatch):
    payment = PaymentFactory(client=ClientFactory(trainer=TrainerFactory(username="t1")))
    outcomes = race(
        monkeypatch,
        services,
        {
            "pay": lambda: services.payment_mark_paid(payment=Payment.objects.get(pk=payment.pk)),
            "cancel": lambda: services.payment_cancel(payment=Payment.objects.get(pk=payment.pk)),
        },
    )
    assert list(outcomes.values()).count("done") == 1
    payment.refresh_from_db()
    if outcomes["pay"] == "done":
        assert (payment.status, outcomes["cancel"]) == ("paid", "A paid payment cannot be marked cancelled.")
        assert payment.paid_at is not None
    else:
        assert (payment.status, outcomes["pay"]) == (
            "cancelled",
            "A cancelled payment cannot be marked paid.",
        )
        assert payment.paid_at is None
