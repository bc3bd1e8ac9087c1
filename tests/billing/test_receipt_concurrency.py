"""Two receipts recorded at the same moment (PostgreSQL, real threads): the payment row's
lock makes them take turns, so they never add up to more than the amount, and the
studio's counter row gives each its own number."""

import threading
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from billing import services
from billing.models import Payment, Receipt
from tests.factories import ClientFactory, PaymentFactory, TrainerFactory
from tests.support.threads import run_in_threads

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def record_concurrently(payment_ids, amount, *, count):
    """``count`` threads, each recording ``amount`` on the next payment of ``payment_ids``."""
    outcomes, lock = [], threading.Lock()
    queue = list(payment_ids)

    def work():
        with lock:
            pk = queue.pop()
        try:
            receipt = services.payment_record_receipt(
                payment=Payment.objects.get(pk=pk), amount=Decimal(amount)
            )
            result = receipt.number
        except ValidationError as exc:
            result = exc.messages[0]
        with lock:
            outcomes.append(result)

    run_in_threads(work, count=count)
    return outcomes


def test_two_receipts_at_once_never_exceed_the_amount():
    payment = PaymentFactory(client=ClientFactory(trainer=TrainerFactory()), amount=Decimal("50.00"))

    outcomes = record_concurrently([payment.pk, payment.pk], "30.00", count=2)

    refusals = [o for o in outcomes if isinstance(o, str)]
    assert refusals == ["£30.00 is more than the £20.00 still owed on this payment."]
    payment.refresh_from_db()
    assert (payment.amount_paid, payment.status) == (Decimal("30.00"), "pending")
    assert Receipt.objects.filter(payment=payment).count() == 1


def test_receipts_that_fit_all_land_with_their_own_numbers_and_the_payment_turns_paid():
    payment = PaymentFactory(client=ClientFactory(trainer=TrainerFactory()), amount=Decimal("50.00"))

    outcomes = record_concurrently([payment.pk] * 5, "10.00", count=5)

    assert all(isinstance(o, int) for o in outcomes)
    assert len(set(outcomes)) == 5
    payment.refresh_from_db()
    assert (payment.amount_paid, payment.status) == (Decimal("50.00"), "paid")
    assert sorted(Receipt.objects.values_list("number", flat=True)) == sorted(outcomes)


def test_receipts_on_different_payments_at_once_never_share_a_number():
    client = ClientFactory(trainer=TrainerFactory())
    payments = [PaymentFactory(client=client, amount=Decimal("20.00")) for _ in range(6)]

    outcomes = record_concurrently([p.pk for p in payments], "20.00", count=6)

    assert sorted(outcomes) == list(range(min(outcomes), min(outcomes) + 6))
    assert set(Payment.objects.values_list("status", flat=True)) == {"paid"}
