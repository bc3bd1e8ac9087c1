"""The payment admin: clear form errors for bad input, actions that respect the transitions."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from billing.models import Payment
from common.clock import studio_today
from tests.factories import PaymentFactory, SessionFactory

pytestmark = pytest.mark.django_db
ADD_URL = "/admin/billing/payment/add/"


def payment_post(client, **overrides):
    data = {
        "client": client.pk,
        "session": "",
        "amount": "45.00",
        "due_date": (timezone.localdate() + timedelta(days=7)).isoformat(),
        "method": "",
        "description": "Ten-session pack",
        # The receipts inline's management form (read-only, but the page always carries it).
        "receipts-TOTAL_FORMS": "0",
        "receipts-INITIAL_FORMS": "0",
    }
    data.update(overrides)
    return data


def test_trainer_adds_a_payment_for_their_client(trainer_client, client_obj):
    response = trainer_client.post(ADD_URL, payment_post(client_obj))
    assert response.status_code == 302
    payment = Payment.objects.get()
    assert (payment.client, payment.amount, payment.status) == (client_obj, Decimal("45.00"), "pending")


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        ("-10", "The amount must be greater than zero."),
        ("0", "The amount must be greater than zero."),
        ("ten pounds", "Enter a number."),
        ("1e30", "Ensure that there are no more than 10 digits in total."),
        ("12.345", "Ensure that there are no more than 2 decimal places."),
    ],
)
def test_a_bad_amount_is_a_form_error_not_a_500(trainer_client, client_obj, amount, message):
    response = trainer_client.post(ADD_URL, payment_post(client_obj, amount=amount))
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["amount"] == [message]
    assert not Payment.objects.exists()


def test_a_bad_due_date_is_a_form_error(trainer_client, client_obj):
    response = trainer_client.post(ADD_URL, payment_post(client_obj, due_date="31/02/2027"))
    assert response.status_code == 200
    assert "due_date" in response.context["adminform"].form.errors


def test_a_session_of_another_client_is_a_form_error(trainer_client, trainer, client_obj):
    other_session = SessionFactory(client__trainer=trainer)
    response = trainer_client.post(ADD_URL, payment_post(client_obj, session=other_session.pk))
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["session"] == ["This session belongs to another client."]


def test_mark_paid_action_pays_what_it_can_and_explains_the_rest(trainer_client, client_obj):
    pending = PaymentFactory(client=client_obj)
    cancelled = PaymentFactory(client=client_obj, status=Payment.Status.CANCELLED)
    response = trainer_client.post(
        "/admin/billing/payment/",
        {
            "action": "mark_paid",
            "_selected_action": [pending.pk, cancelled.pk],
            "apply": "1",
            "received_on": studio_today().isoformat(),
            "method": "cash",
        },
        follow=True,
    )
    assert response.status_code == 200
    texts = [str(m) for m in response.context["messages"]]
    assert "1 payment(s) marked paid." in texts
    assert any("A cancelled payment cannot be marked paid." in t for t in texts)
    pending.refresh_from_db()
    cancelled.refresh_from_db()
    assert (pending.status, cancelled.status) == ("paid", "cancelled")
    assert pending.paid_at is not None


def test_cancel_action_refuses_a_paid_payment(trainer_client, client_obj):
    paid = PaymentFactory(client=client_obj, status=Payment.Status.PAID, paid_at=timezone.now())
    response = trainer_client.post(
        "/admin/billing/payment/", {"action": "cancel_payments", "_selected_action": [paid.pk]}, follow=True
    )
    assert any("A paid payment cannot be marked cancelled." in str(m) for m in response.context["messages"])
    paid.refresh_from_db()
    assert paid.status == "paid"


def test_status_cannot_be_edited_on_the_change_form(trainer_client, client_obj):
    payment = PaymentFactory(client=client_obj)
    response = trainer_client.post(
        f"/admin/billing/payment/{payment.pk}/change/", payment_post(client_obj, status="paid", amount="50")
    )
    assert response.status_code == 302
    payment.refresh_from_db()
    assert (payment.status, payment.amount) == ("pending", Decimal("50.00"))
