"""The admin records when and how money arrived: a per-payment form and the bulk
*Mark paid* page; bad input is shown on the form and nothing is recorded."""

from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine

from billing import services
from billing.models import Payment, Receipt
from tests.factories import ClientFactory, PaymentFactory

pytestmark = pytest.mark.django_db
NOW = datetime(2027, 3, 10, 15, 30, tzinfo=ZoneInfo("Europe/London"))


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


def record_url(payment):
    return f"/admin/billing/payment/{payment.pk}/record/"


def form_errors(response):
    return response.context["form"].errors


class TestRecordAPayment:
    def test_the_form_offers_the_balance_today_and_the_expected_method(self, trainer_client, client_obj):
        payment = PaymentFactory(client=client_obj, amount=Decimal("60.00"), method="bank_transfer")
        services.payment_record_receipt(payment=payment, amount=Decimal("20.00"), method="cash")

        response = trainer_client.get(record_url(payment))

        assert response.status_code == 200
        form = response.context["form"]
        assert form.initial == {"amount": Decimal("40.00"), "received_on": NOW.date(), "method": "cash"}
        page = response.content.decode()
        assert "Still owed: £40.00." in page
        assert "£20.00" in page  # the receipt so far, listed

    def test_a_part_payment_is_recorded_with_its_date_method_and_reference(
        self, trainer_client, trainer, client_obj
    ):
        payment = PaymentFactory(client=client_obj, amount=Decimal("60.00"))

        response = trainer_client.post(
            record_url(payment),
            {"amount": "25.50", "received_on": "2027-03-08", "method": "bank_transfer", "reference": "SO-12"},
            follow=True,
        )

        receipt = Receipt.objects.get()
        assert (receipt.amount, receipt.method, receipt.reference, receipt.recorded_by) == (
            Decimal("25.50"),
            "bank_transfer",
            "SO-12",
            trainer,
        )
        # A past day is recorded at the studio's midday, so it reads as that day everywhere near.
        assert receipt.paid_at == datetime(2027, 3, 8, 12, tzinfo=ZoneInfo("Europe/London"))
        assert response.redirect_chain[-1][0] == f"/admin/billing/payment/{payment.pk}/change/"
        assert [str(m) for m in response.context["messages"]] == [
            f"Receipt {receipt.label}: £25.50 received. Still owed: £34.50."
        ]
        page = response.content.decode()
        assert receipt.label in page and "£25.50" in page  # the receipts inline

    def test_the_whole_balance_today_pays_it_now(self, trainer_client, client_obj):
        payment = PaymentFactory(client=client_obj, amount=Decimal("60.00"))
        response = trainer_client.post(
            record_url(payment),
            {"amount": "60.00", "received_on": "2027-03-10", "method": "cash"},
            follow=True,
        )
        payment.refresh_from_db()
        assert (payment.status, payment.paid_at) == ("paid", NOW)
        assert "The payment is paid in full." in str(list(response.context["messages"])[0])

    @pytest.mark.parametrize(
        ("data", "field", "message"),
        [
            ({"amount": "60.01"}, "amount", "£60.01 is more than the £60.00 still owed on this payment."),
            ({"amount": "0"}, "amount", "The amount received must be greater than zero."),
            ({"amount": "sixty"}, "amount", "Enter a number."),
            ({"amount": "1.005"}, "amount", "Ensure that there are no more than 2 decimal places."),
            ({"received_on": "2027-03-11"}, "received_on", "Money cannot be received in the future."),
            ({"received_on": "31/02/2027"}, "received_on", "Enter a valid date."),
            ({"method": ""}, "method", "This field is required."),
            (
                {"reference": "x" * 101},
                "reference",
                "Ensure this value has at most 100 characters (it has 101).",
            ),
        ],
    )
    def test_bad_input_is_shown_on_the_form_and_nothing_is_recorded(
        self, trainer_client, client_obj, data, field, message
    ):
        payment = PaymentFactory(client=client_obj, amount=Decimal("60.00"))
        post = {
            "amount": "20.00",
            "received_on": "2027-03-10",
            "method": "cash",
            "reference": "keep me",
        } | data

        response = trainer_client.post(record_url(payment), post)

        assert response.status_code == 400
        assert form_errors(response)[field] == [message]
        assert not Receipt.objects.exists()
        # What was typed is still there.
        assert response.context["form"].data["reference"] == post["reference"]

    def test_another_trainers_payment_is_not_found(self, trainer_client, other_trainer):
        theirs = PaymentFactory(client=ClientFactory(trainer=other_trainer))
        assert trainer_client.get(record_url(theirs)).status_code == 404
        assert (
            trainer_client.post(
                record_url(theirs), {"amount": "1", "received_on": "2027-03-10", "method": "cash"}
            ).status_code
            == 404
        )
        assert not Receipt.objects.exists()

    def test_a_paid_payment_explains_there_is_nothing_left(self, trainer_client, client_obj):
        payment = PaymentFactory(client=client_obj, status=Payment.Status.PAID, paid_at=NOW)
        response = trainer_client.post(
            record_url(payment), {"amount": "1", "received_on": "2027-03-10", "method": "cash"}
        )
        assert response.status_code == 400
        assert form_errors(response)["__all__"] == ["This payment is paid: there is nothing left to receive."]


class TestMarkPaidPage:
    def test_the_action_asks_when_and_how_before_changing_anything(self, trainer_client, client_obj):
        a = PaymentFactory(client=client_obj, amount=Decimal("30.00"))
        b = PaymentFactory(client=client_obj, amount=Decimal("45.00"))
        services.payment_record_receipt(payment=b, amount=Decimal("5.00"))

        response = trainer_client.post(
            "/admin/billing/payment/", {"action": "mark_paid", "_selected_action": [a.pk, b.pk]}
        )

        assert response.status_code == 200
        page = response.content.decode()
        assert "£30.00" in page and "£40.00" in page and "£70.00" in page  # each balance and the total
        assert "Mark 2 payments paid" in page
        assert set(Payment.objects.values_list("status", flat=True)) == {"pending"}

    def test_confirming_records_a_receipt_for_each_balance(self, trainer_client, trainer, client_obj):
        a = PaymentFactory(client=client_obj, amount=Decimal("30.00"))
        b = PaymentFactory(client=client_obj, amount=Decimal("45.00"))
        services.payment_record_receipt(payment=b, amount=Decimal("5.00"))

        trainer_client.post(
            "/admin/billing/payment/",
            {
                "action": "mark_paid",
                "_selected_action": [a.pk, b.pk],
                "apply": "1",
                "received_on": "2027-03-09",
                "method": "card",
                "reference": "batch 9 March",
            },
        )

        assert set(Payment.objects.values_list("status", flat=True)) == {"paid"}
        new = Receipt.objects.filter(reference="batch 9 March").order_by("amount")
        assert [(r.amount, r.method, r.recorded_by) for r in new] == [
            (Decimal("30.00"), "card", trainer),
            (Decimal("40.00"), "card", trainer),
        ]

    def test_a_bad_date_shows_the_page_again_with_the_error(self, trainer_client, client_obj):
        a = PaymentFactory(client=client_obj)
        response = trainer_client.post(
            "/admin/billing/payment/",
            {
                "action": "mark_paid",
                "_selected_action": [a.pk],
                "apply": "1",
                "received_on": "2027-04-01",
                "method": "card",
            },
        )
        assert response.status_code == 400
        assert response.context["form"].errors["received_on"] == ["Money cannot be received in the future."]
        a.refresh_from_db()
        assert a.status == "pending"


def test_the_amount_is_read_only_once_money_was_received(trainer_client, client_obj):
    payment = PaymentFactory(client=client_obj, amount=Decimal("60.00"))
    services.payment_record_receipt(payment=payment, amount=Decimal("10.00"))
    response = trainer_client.get(f"/admin/billing/payment/{payment.pk}/change/")
    assert "amount" not in response.context["adminform"].form.fields
    assert 'id="record-payment-link"' in response.content.decode()


def test_cancelling_a_part_paid_payment_says_the_money_stays_recorded(trainer_client, client_obj):
    payment = PaymentFactory(client=client_obj, amount=Decimal("60.00"), description="Ten-pack")
    services.payment_record_receipt(payment=payment, amount=Decimal("20.00"))
    response = trainer_client.post(
        "/admin/billing/payment/",
        {"action": "cancel_payments", "_selected_action": [payment.pk]},
        follow=True,
    )
    texts = [str(m) for m in response.context["messages"]]
    assert "1 payment(s) cancelled." in texts
    assert any("the £20.00 already received stays recorded with its receipts" in t for t in texts)


def test_the_receipt_list_is_scoped_to_the_trainers_book(trainer_client, client_obj, other_trainer):
    mine = services.payment_record_receipt(payment=PaymentFactory(client=client_obj), amount=Decimal("5.00"))
    theirs = services.payment_record_receipt(
        payment=PaymentFactory(client=ClientFactory(trainer=other_trainer)), amount=Decimal("7.00")
    )
    response = trainer_client.get("/admin/billing/receipt/")
    assert response.status_code == 200
    assert list(response.context["cl"].result_list) == [mine]
    assert (
        trainer_client.get(f"/admin/billing/receipt/{theirs.pk}/change/").status_code == 302
    )  # "not found" redirect
    assert trainer_client.get(f"/admin/billing/receipt/{mine.pk}/change/").status_code == 200
