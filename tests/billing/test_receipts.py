"""Receipts: partial payments add up to paid, never more; numbers run in one series."""

from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.utils import timezone

from billing import services
from billing.models import Payment, Receipt
from billing.selectors import client_balance
from tests.factories import ClientFactory, PaymentFactory

pytestmark = pytest.mark.django_db
Status = Payment.Status
NOW = datetime(2027, 1, 15, 12, tzinfo=ZoneInfo("Europe/London"))


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


def record(payment, amount, **kwargs):
    return services.payment_record_receipt(payment=payment, amount=Decimal(amount), **kwargs)


def test_partial_payments_add_up_and_the_last_one_makes_it_paid(client_obj, trainer):
    payment = PaymentFactory(client=client_obj, amount=Decimal("60.00"), method=Payment.Method.CARD)
    yesterday = NOW - timedelta(days=1)

    first = record(payment, "25.00", paid_at=yesterday, method="cash", recorded_by=trainer)
    payment.refresh_from_db()
    assert (payment.status, payment.amount_paid, payment.balance) == (
        Status.PENDING,
        Decimal("25.00"),
        Decimal("35.00"),
    )
    assert payment.paid_at is None

    second = record(payment, "35.00", method="bank_transfer", reference="FIT-7")
    payment.refresh_from_db()
    assert (payment.status, payment.amount_paid, payment.balance) == (
        Status.PAID,
        Decimal("60.00"),
        Decimal("0"),
    )
    assert payment.paid_at == NOW  # when the last part arrived
    assert (payment.method, payment.reference) == ("bank_transfer", "FIT-7")

    assert [(r.number, r.amount, r.method, r.recorded_by) for r in Receipt.objects.order_by("number")] == [
        (first.number, Decimal("25.00"), "cash", trainer),
        (first.number + 1, Decimal("35.00"), "bank_transfer", None),
    ]
    assert second.label == f"R{second.number:05d}"
    assert first.paid_at == yesterday


def test_more_than_is_owed_is_refused_and_changes_nothing(client_obj):
    payment = PaymentFactory(client=client_obj, amount=Decimal("60.00"))
    record(payment, "50.00")
    with pytest.raises(ValidationError) as exc:
        record(payment, "10.01")
    assert exc.value.message_dict == {
        "amount": ["£10.01 is more than the £10.00 still owed on this payment."]
    }
    payment.refresh_from_db()
    assert (payment.amount_paid, payment.status, payment.receipts.count()) == (
        Decimal("50.00"),
        Status.PENDING,
        1,
    )


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        ("0", "The amount received must be greater than zero."),
        ("-5", "The amount received must be greater than zero."),
        ("1.234", "Enter the amount in whole pennies (two decimals at most)."),
    ],
)
def test_an_amount_that_is_not_money_is_refused(client_obj, amount, message):
    payment = PaymentFactory(client=client_obj)
    with pytest.raises(ValidationError) as exc:
        record(payment, amount)
    assert exc.value.message_dict == {"amount": [message]}
    assert not Receipt.objects.exists()


def test_money_cannot_arrive_in_the_future(client_obj):
    payment = PaymentFactory(client=client_obj)
    with pytest.raises(ValidationError) as exc:
        record(payment, "10", paid_at=NOW + timedelta(days=1))
    assert exc.value.message_dict == {"paid_at": ["Money cannot be received in the future."]}


@pytest.mark.parametrize("status", [Status.PAID, Status.CANCELLED])
def test_a_closed_payment_receives_nothing(client_obj, status):
    payment = PaymentFactory(client=client_obj, status=status, paid_at=NOW if status == Status.PAID else None)
    with pytest.raises(ValidationError) as exc:
        record(payment, "1")
    assert exc.value.messages == [
        f"This payment is {status.label.lower()}: there is nothing left to receive."
    ]


def test_mark_paid_records_one_receipt_for_what_is_still_owed(client_obj):
    payment = PaymentFactory(client=client_obj, amount=Decimal("80.00"))
    record(payment, "30.00")

    services.payment_mark_paid(payment=payment, method="online", reference="pi_123")

    payment.refresh_from_db()
    assert (payment.status, payment.amount_paid, payment.paid_at) == (Status.PAID, Decimal("80.00"), NOW)
    last = payment.receipts.order_by("-number").first()
    assert (last.amount, last.method, last.reference) == (Decimal("50.00"), "online", "pi_123")


def test_receipt_numbers_run_across_payments_and_clients(client_obj):
    numbers = [
        record(PaymentFactory(client=client), "10").number
        for client in (client_obj, ClientFactory(trainer=client_obj.trainer), client_obj)
    ]
    assert numbers == list(range(numbers[0], numbers[0] + 3))


def test_a_refused_receipt_gives_its_number_back(client_obj):
    payment = PaymentFactory(client=client_obj, amount=Decimal("10.00"))
    first = record(payment, "4")
    with pytest.raises(ValidationError):
        record(payment, "7")
    assert record(payment, "6").number == first.number + 1


def test_cancelling_a_part_paid_payment_keeps_what_was_received(client_obj):
    payment = PaymentFactory(client=client_obj, amount=Decimal("60.00"))
    receipt = record(payment, "20.00")

    services.payment_cancel(payment=payment)

    payment.refresh_from_db()
    assert (payment.status, payment.amount_paid, payment.balance) == (
        Status.CANCELLED,
        Decimal("20.00"),
        Decimal("0.00"),
    )
    assert list(payment.receipts.all()) == [receipt]
    assert client_balance(client_obj).owed == Decimal("0.00")


def test_the_amount_cannot_change_once_money_was_received(client_obj):
    payment = PaymentFactory(client=client_obj, amount=Decimal("60.00"))
    record(payment, "20.00")
    payment = Payment.objects.get(pk=payment.pk)
    payment.amount = Decimal("15.00")
    with pytest.raises(ValidationError) as exc:
        services.payment_save(payment=payment)
    assert exc.value.message_dict == {
        "amount": ["£20.00 has already been received on this payment, so its amount cannot change."]
    }


def test_saving_a_payment_opened_before_a_receipt_keeps_the_receipt(client_obj):
    stale = PaymentFactory(client=client_obj, amount=Decimal("60.00"))
    record(Payment.objects.get(pk=stale.pk), "60.00")  # paid while the form was open

    stale.description = "Ten-pack, January"
    services.payment_save(payment=stale)

    stale.refresh_from_db()
    assert (stale.status, stale.amount_paid, stale.description) == (
        Status.PAID,
        Decimal("60.00"),
        "Ten-pack, January",
    )


def test_client_balance_sums_open_payments_only(client_obj):
    PaymentFactory(client=client_obj, amount=Decimal("60.00"))
    overdue = PaymentFactory(
        client=client_obj, amount=Decimal("40.00"), status=Status.OVERDUE, due_date=date(2027, 1, 1)
    )
    record(overdue, "15.00")
    PaymentFactory(client=client_obj, amount=Decimal("99.00"), status=Status.PAID, paid_at=timezone.now())
    PaymentFactory(client=client_obj, amount=Decimal("77.00"), status=Status.CANCELLED)
    PaymentFactory(amount=Decimal("500.00"))  # someone else's

    balance = client_balance(client_obj)

    assert (balance.owed, balance.overdue, balance.open_payments) == (Decimal("85.00"), Decimal("25.00"), 2)
