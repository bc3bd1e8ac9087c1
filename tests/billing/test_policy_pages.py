"""The policy's pages: the settings page, the charges, waiving; the portal's cancel page and the staff action."""

import html as html_lib
import re
from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine
from django.urls import reverse

from billing import services as billing
from billing.models import Payment
from billing.policy import Charge, SessionCharge, StudioPolicy
from messaging.portal.tokens import make_portal_token
from scheduling import services as scheduling
from scheduling.models import Session
from tests.factories import ClientFactory, SessionFactory, set_policy
from tests.support.clock import utc

pytestmark = pytest.mark.django_db

NOW = utc(2026, 11, 25, 10, 0)


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def text(response) -> str:
    return " ".join(html_lib.unescape(re.sub(r"<[^>]+>", " ", response.content.decode())).split())


def fee_charge_for(client, **policy):
    set_policy(**({"no_show_charge": Charge.FEE_FIXED, "no_show_fee": Decimal("20")} | policy))
    session = SessionFactory(client=client, starts_at=NOW - timedelta(hours=1))
    scheduling.session_mark_no_show(session=session)
    return SessionCharge.objects.get(session=session)


# --- The settings page ------------------------------------------------------------------------


def test_the_policy_list_opens_the_one_settings_page(manager_client):
    response = manager_client.get(reverse("admin:billing_studiopolicy_changelist"))
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:billing_studiopolicy_change", args=[1])
    page = manager_client.get(response["Location"])
    assert "Sessions can be cancelled free of charge up to 24 hours before they start." in text(page)


def test_the_settings_page_saves_and_refuses_a_fee_without_its_amount(manager_client):
    url = reverse("admin:billing_studiopolicy_change", args=[1])
    manager_client.get(reverse("admin:billing_studiopolicy_changelist"))
    data = {
        "late_cancel_window_hours": "48",
        "late_cancel_charge": "fee_fixed",
        "late_cancel_fee": "",
        "late_cancel_percent": "",
        "no_show_charge": "fee_percent",
        "no_show_fee": "",
        "no_show_percent": "100",
        "grace_count": "1",
        "grace_days": "90",
        "fee_due_days": "0",
        "client_note": "",
    }
    refused = manager_client.post(url, data)
    assert refused.status_code == 200
    assert "Enter the fee, or choose another charge." in text(refused)
    assert not StudioPolicy.objects.exists()  # nothing saved
    saved = manager_client.post(url, data | {"late_cancel_fee": "12.50"})
    assert saved.status_code == 302
    policy = StudioPolicy.objects.get()
    assert (policy.late_cancel_window_hours, policy.late_cancel_fee, policy.no_show_percent) == (
        48,
        Decimal("12.50"),
        100,
    )


def test_a_trainer_reads_the_policy_but_cannot_change_it(trainer_client):
    trainer_client.get(reverse("admin:billing_studiopolicy_changelist"))
    url = reverse("admin:billing_studiopolicy_change", args=[1])
    page = trainer_client.get(url)
    assert page.status_code == 200 and 'name="late_cancel_window_hours"' not in page.content.decode()
    assert trainer_client.post(url, {"late_cancel_window_hours": "1"}).status_code == 403


# --- Charges and waiving ----------------------------------------------------------------------


def test_the_charge_list_shows_a_trainers_own_clients_only(trainer_client, client_obj, other_trainer):
    mine = fee_charge_for(client_obj)
    theirs = SessionFactory(client=ClientFactory(trainer=other_trainer), starts_at=NOW - timedelta(hours=2))
    scheduling.session_mark_no_show(session=theirs)
    page = trainer_client.get(reverse("admin:billing_sessioncharge_changelist"))
    assert text(page).count("No-show") >= 1 and "£20.00 (pending)" in text(page)
    assert page.context["cl"].result_count == 1
    other = SessionCharge.objects.get(session=theirs)
    assert (
        trainer_client.get(reverse("admin:billing_sessioncharge_change", args=[other.pk])).status_code == 302
    )
    waive = trainer_client.post(
        reverse("admin:billing_sessioncharge_waive", args=[other.pk]), {"reason": "x"}
    )
    assert waive.status_code == 302
    assert not SessionCharge.objects.get(pk=other.pk).is_waived
    assert (
        trainer_client.get(reverse("admin:billing_sessioncharge_change", args=[mine.pk])).status_code == 200
    )


def test_waiving_from_the_admin_needs_a_reason_then_cancels_the_fee(trainer_client, trainer, client_obj):
    charge = fee_charge_for(client_obj)
    url = reverse("admin:billing_sessioncharge_waive", args=[charge.pk])
    page = text(trainer_client.get(url))
    assert "cancels the fee of £20.00 (pending), so the client no longer owes it" in page
    refused = trainer_client.post(url, {"reason": "   "})
    assert refused.status_code == 200 and "This field is required." in text(refused)
    done = trainer_client.post(url, {"reason": "Client was ill"}, follow=True)
    assert "Charge waived. Its fee payment is cancelled." in text(done)
    charge.refresh_from_db()
    assert (charge.waived_by, charge.waive_reason) == (trainer, "Client was ill")
    assert charge.fee_payment.status == Payment.Status.CANCELLED
    again = text(trainer_client.get(url))
    assert "This charge was waived on" in again and "Waive the charge" not in again


def test_waiving_a_paid_fee_warns_that_it_stays_paid(manager_client, client_obj):
    charge = fee_charge_for(client_obj)
    billing.payment_mark_paid(payment=charge.fee_payment)
    url = reverse("admin:billing_sessioncharge_waive", args=[charge.pk])
    assert "recorded as paid (the client has paid it already)" in text(manager_client.get(url))
    done = text(manager_client.post(url, {"reason": "Goodwill"}, follow=True))
    assert "The fee had already been paid and stays recorded as paid" in done


def test_the_session_action_cancels_for_the_client_and_applies_the_late_charge(trainer_client, client_obj):
    set_policy(late_cancel_charge=Charge.FEE_FIXED, late_cancel_fee=Decimal("15"))
    late = SessionFactory(client=client_obj, starts_at=NOW + timedelta(hours=5))
    response = trainer_client.post(
        reverse("admin:scheduling_session_changelist"),
        {"action": "cancel_for_client", "_selected_action": [late.pk]},
        follow=True,
    )
    assert "1 session(s) cancelled for the client." in text(response)
    charge = SessionCharge.objects.get(session=late)
    assert (charge.kind, charge.fee_payment.amount) == ("late_cancel", Decimal("15.00"))


# --- The portal -------------------------------------------------------------------------------


def session_url(client, session, **query):
    url = reverse("portal:session", args=[make_portal_token(client), session.pk])
    return url + ("?action=cancel" if query.get("cancel") else "")


def cancel_url(client, session):
    return reverse("portal:session_cancel", args=[make_portal_token(client), session.pk])


def test_the_portal_refuses_a_late_cancel_when_the_studio_does_not_take_them_online(client, client_obj):
    set_policy(late_cancel_charge=Charge.FEE_FIXED, late_cancel_fee=Decimal("15"))
    session = SessionFactory(client=client_obj, starts_at=NOW + timedelta(hours=5))
    page = text(client.get(session_url(client_obj, session, cancel=True)))
    assert (
        "It is too late to cancel online. Sessions can be cancelled free of charge up to 24 hours before they "
        "start. A later cancellation costs £15.00. For later changes, please contact the studio." in page
    )
    client.post(cancel_url(client_obj, session), {"late": "1"})
    assert Session.objects.get(pk=session.pk).status == Session.Status.SCHEDULED
    assert not SessionCharge.objects.exists()


def test_the_portal_says_what_a_late_cancel_costs_and_charges_it_once_confirmed(client, client_obj):
    set_policy(
        clients_may_cancel_late=True, late_cancel_charge=Charge.FEE_FIXED, late_cancel_fee=Decimal("15")
    )
    session = SessionFactory(client=client_obj, starts_at=NOW + timedelta(hours=5))
    home = text(client.get(reverse("portal:home", args=[make_portal_token(client_obj)])))
    assert "Cancelling now is a late cancellation: a fee of £15.00 applies." in home
    page = text(client.get(session_url(client_obj, session, cancel=True)))
    assert "this is a late cancellation and a fee of £15.00 applies." in page
    assert "Yes, cancel it late" in page
    client.post(cancel_url(client_obj, session), {"late": "1", "reason": "Stuck at work"})
    session.refresh_from_db()
    assert (session.status, session.cancelled_by) == (Session.Status.CANCELLED, Session.CancelledBy.CLIENT)
    assert SessionCharge.objects.get().fee_payment.amount == Decimal("15.00")


def test_a_free_cancel_page_submitted_after_the_deadline_asks_again(client, client_obj, frozen):
    set_policy(
        clients_may_cancel_late=True, late_cancel_charge=Charge.FEE_FIXED, late_cancel_fee=Decimal("15")
    )
    session = SessionFactory(client=client_obj, starts_at=NOW + timedelta(hours=24, seconds=30))
    assert "Free cancellation until" in text(client.get(session_url(client_obj, session, cancel=True)))
    frozen.shift(timedelta(minutes=1))  # the client took a minute to press the button
    response = client.post(cancel_url(client_obj, session), follow=True)
    page = text(response)
    assert "The free cancellation period has just ended." in page
    assert "this is a late cancellation and a fee of £15.00 applies." in page
    assert Session.objects.get(pk=session.pk).status == Session.Status.SCHEDULED
    assert not SessionCharge.objects.exists()


def test_the_portal_uses_the_policys_window_for_cancelling_and_moving(client, client_obj):
    set_policy(late_cancel_window_hours=48)
    session = SessionFactory(client=client_obj, starts_at=NOW + timedelta(hours=30))
    page = text(client.get(session_url(client_obj, session)))
    assert "It is too late to cancel online. Sessions can be cancelled free of charge up to 48 hours" in page
    token = make_portal_token(client_obj)
    move = text(client.get(reverse("portal:session_reschedule", args=[token, session.pk])))
    assert "It is too late to move this session online." in move


def test_waiving_a_part_paid_fee_keeps_what_was_received_and_says_the_rest_is_written_off(
    manager_client, client_obj
):
    # A fee (policy) paid in part (receipts): the page said "cancels the fee of £20.00, so
    # the client no longer owes it" and "Its fee payment is cancelled", silent about the
    # £5.00 the client had paid, which stays received.
    charge = fee_charge_for(client_obj)
    billing.payment_record_receipt(payment=charge.fee_payment, amount=Decimal("5"), method="cash")
    url = reverse("admin:billing_sessioncharge_waive", args=[charge.pk])
    page = text(manager_client.get(url))
    assert (
        "cancels the rest of the fee of £20.00 (£15.00 still owed), so the client no longer owes it; "
        "the £5.00 already received stays recorded with its receipts: refund it to them your usual way"
    ) in page
    done = text(manager_client.post(url, {"reason": "Goodwill"}, follow=True))
    assert (
        "Charge waived. Its fee payment is cancelled: the £15.00 still owed is written off; "
        "the £5.00 already received stays recorded with its receipts: refund it to the client "
        "your usual way."
    ) in done
    payment = Payment.objects.get(pk=charge.fee_payment_id)
    assert (payment.status, payment.amount_paid, payment.balance) == ("cancelled", Decimal("5.00"), 0)
    assert payment.receipts.count() == 1
