"""Payments: amount validation and status transitions that refuse the impossible."""

from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from billing import services
from billing.models import Payment
from tests.factories import PaymentFactory, SessionFactory

pytestmark = pytest.mark.django_db
Status = Payment.Status
TODAY = datetime(2027, 1, 15, 12, tzinfo=ZoneInfo("Europe/London"))


@pytest.fixture(autouse=True)
def frozen_today():
    with time_machine.travel(TODAY, tick=False):
        yield


class TestAmount:
    @pytest.mark.parametrize("amount", ["0", "-10.00", "0.00", "-0.01"])
    def test_amount_must_be_greater_than_zero(self, client_obj, amount):
        with pytest.raises(ValidationError) as exc:
            services.payment_create(client=client_obj, amount=Decimal(amount), due_date=date(2027, 2, 1))
        assert exc.value.message_dict["amount"] == ["The amount must be greater than zero."]
        assert not Payment.objects.exists()

    def test_too_many_digits_is_a_clear_error(self, client_obj):
        with pytest.raises(ValidationError) as exc:
            services.payment_create(
                client=client_obj, amount=Decimal("123456789.00"), due_date=date(2027, 2, 1)
            )
        assert "amount" in exc.value.message_dict

    def test_the_database_refuses_a_non_positive_amount_too(self, client_obj):
        with pytest.raises(IntegrityError), transaction.atomic():
            PaymentFactory(client=client_obj, amount=Decimal("-1"))

    def test_a_valid_payment_is_pending_in_the_studio_currency(self, client_obj, settings):
        payment = services.payment_create(
            client=client_obj, amount=Decimal("45.50"), due_date=date(2027, 2, 1)
        )
        payment.refresh_from_db()
        assert (payment.status, payment.amount, payment.currency) == (Status.PENDING, Decimal("45.50"), "GBP")


class TestCreation:
    def test_a_payment_created_past_its_due_date_is_overdue_at_once(self, client_obj):
        payment = services.payment_create(client=client_obj, amount=Decimal("30"), due_date=date(2027, 1, 14))
        assert payment.status == Status.OVERDUE
        assert payment.overdue_at == TODAY

    def test_a_payment_due_today_is_pending(self, client_obj):
        payment = services.payment_create(client=client_obj, amount=Decimal("30"), due_date=date(2027, 1, 15))
        assert payment.status == Status.PENDING

    def test_the_session_must_belong_to_the_same_client(self, client_obj):
        someone_elses = SessionFactory(client__trainer=client_obj.trainer)
        with pytest.raises(ValidationError) as exc:
            services.payment_create(
                client=client_obj, amount=Decimal("30"), due_date=date(2027, 2, 1), session=someone_elses
            )
        assert exc.value.message_dict["session"] == ["This session belongs to another client."]


class TestTransitions:
    def test_pending_payment_is_marked_paid_with_the_time_and_method(self, client_obj):
        payment = PaymentFactory(client=client_obj)
        services.payment_mark_paid(payment=payment, method=Payment.Method.CASH)
        payment.refresh_from_db()
        assert (payment.status, payment.paid_at, payment.method) == (Status.PAID, TODAY, "cash")

    def test_overdue_payment_can_still_be_paid_or_cancelled(self, client_obj):
        services.payment_mark_paid(payment=PaymentFactory(client=client_obj, status=Status.OVERDUE))
        services.payment_cancel(payment=PaymentFactory(client=client_obj, status=Status.OVERDUE))
        assert sorted(Payment.objects.values_list("status", flat=True)) == ["cancelled", "paid"]

    def test_mark_overdue_records_when(self, client_obj):
        payment = PaymentFactory(client=client_obj, due_date=date(2027, 1, 14))
        payment = services.payment_mark_overdue(payment=payment)
        payment.refresh_from_db()
        assert (payment.status, payment.overdue_at) == (Status.OVERDUE, TODAY)

    @pytest.mark.parametrize("due", [date(2027, 1, 15), date(2027, 1, 16)])
    def test_a_payment_cannot_be_overdue_before_its_due_date_has_passed(self, client_obj, due):
        payment = PaymentFactory(client=client_obj, due_date=due)
        with pytest.raises(ValidationError) as exc:
            services.payment_mark_overdue(payment=payment)
        assert exc.value.code == "not_due"
        assert exc.value.messages == [
            f"This payment is due on {due:%a %d %b %Y}: it cannot be overdue before that day has passed."
        ]
        payment.refresh_from_db()
        assert payment.status == Status.PENDING

    def test_the_admin_says_why_a_payment_is_not_overdue(self, trainer_client, client_obj):
        payment = PaymentFactory(client=client_obj, due_date=date(2027, 1, 20))
        response = trainer_client.post(
            "/admin/billing/payment/",
            {"action": "mark_overdue", "_selected_action": [payment.pk]},
            follow=True,
        )
        texts = [str(m) for m in response.context["messages"]]
        assert any(
            "is due on Wed 20 Jan 2027: it cannot be overdue before that day has passed." in t for t in texts
        )

    @pytest.mark.parametrize(
        ("start", "service", "message"),
        [
            (Status.CANCELLED, services.payment_mark_paid, "A cancelled payment cannot be marked paid."),
            (
                Status.CANCELLED,
                services.payment_mark_overdue,
                "A cancelled payment cannot be marked overdue.",
            ),
            (Status.CANCELLED, services.payment_cancel, "A cancelled payment cannot be marked cancelled."),
            (Status.PAID, services.payment_cancel, "A paid payment cannot be marked cancelled."),
            (Status.PAID, services.payment_mark_overdue, "A paid payment cannot be marked overdue."),
            (Status.PAID, services.payment_mark_paid, "A paid payment cannot be marked paid."),
            (Status.OVERDUE, services.payment_mark_overdue, "An overdue payment cannot be marked overdue."),
        ],
    )
    def test_impossible_transitions_are_refused_with_a_clear_error(self, client_obj, start, service, message):
        paid_at = TODAY if start == Status.PAID else None
        payment = PaymentFactory(client=client_obj, status=start, paid_at=paid_at)
        with pytest.raises(ValidationError) as exc:
            service(payment=payment)
        assert exc.value.messages == [message]
        payment.refresh_from_db()
        assert payment.status == start
        assert payment.paid_at == paid_at

    def test_the_database_refuses_paid_without_paid_at(self, client_obj):
        with pytest.raises(IntegrityError), transaction.atomic():
            PaymentFactory(client=client_obj, status=Status.PAID, paid_at=None)

    def test_validation_explains_paid_without_paid_at(self, client_obj):
        payment = PaymentFactory.build(client=client_obj, status=Status.PAID, paid_at=None)
        with pytest.raises(ValidationError, match="A paid payment needs the date it was paid."):
            payment.full_clean()


class TestBalance:
    def test_an_open_payment_owes_its_amount_and_a_paid_one_nothing(self, client_obj):
        payment = services.payment_create(
            client=client_obj, amount=Decimal("60.00"), due_date=date(2027, 2, 1)
        )
        assert payment.balance == Decimal("60.00")

        services.payment_mark_paid(payment=payment, method=Payment.Method.BANK_TRANSFER, reference="FIT-0042")

        payment.refresh_from_db()
        assert (payment.amount_paid, payment.balance) == (Decimal("60.00"), Decimal("0.00"))
        assert (payment.method, payment.reference) == ("bank_transfer", "FIT-0042")

    def test_more_received_than_owed_is_refused_by_the_database(self, client_obj):
        payment = PaymentFactory(client=client_obj, amount=Decimal("20.00"))
        with pytest.raises(IntegrityError), transaction.atomic():
            Payment.objects.filter(pk=payment.pk).update(amount_paid=Decimal("20.01"))
