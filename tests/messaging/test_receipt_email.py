"""Receipt emails: rendered from the studio's template, queued through the outbox as a
notice, sent by hand (again if need be) or once automatically when the switch is on."""

from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine

from billing import services
from clients.models import Category, Channel
from messaging import receipts
from messaging.models import Message, ReceiptTemplate
from messaging.templating import context_for
from tests.factories import ClientFactory, PaymentFactory

pytestmark = pytest.mark.django_db
NOW = datetime(2027, 3, 10, 15, 30, tzinfo=ZoneInfo("Europe/London"))


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def ann(trainer):
    return ClientFactory(trainer=trainer, first_name="Ann", last_name="Lee", email="ann@example.com")


def pay(payment, amount, **kwargs):
    return services.payment_record_receipt(payment=payment, amount=Decimal(amount), **kwargs)


def test_the_default_receipt_says_who_what_how_much_how_when_and_its_number(ann, settings):
    settings.STUDIO_NAME = "Iron Temple"
    payment = PaymentFactory(client=ann, amount=Decimal("60.00"), description="Ten-session pack")
    first = pay(
        payment,
        "20.00",
        method="bank_transfer",
        reference="SO-12",
        paid_at=datetime(2027, 3, 8, 12, tzinfo=ZoneInfo("Europe/London")),
    )

    message = receipts.receipt_email(receipt=first)

    assert (message.channel, message.category, message.client, message.payment) == (
        Channel.EMAIL,
        Category.TRANSACTIONAL,
        ann,
        payment,
    )
    assert message.subject == f"Receipt {first.label} from Iron Temple"
    assert message.body == (
        "Hello Ann,\n\n"
        "Thank you for your payment. This is your receipt.\n\n"
        f"Receipt number: {first.label}\n"
        "Date received: Monday 8 March 2027\n"
        "Client: Ann Lee\n"
        "For: Ten-session pack\n"
        "Amount received: £20.00\n"
        "Method: Bank transfer\n"
        "Reference: SO-12\n\n"
        "Received so far: £20.00 of £60.00; still to pay: £40.00.\n\n"
        "Iron Temple"
    )
    first.refresh_from_db()
    assert first.emailed_at == NOW


def test_the_last_receipt_says_paid_in_full_and_an_earlier_one_sent_later_still_says_what_was_owed(ann):
    payment = PaymentFactory(client=ann, amount=Decimal("60.00"), description="")
    first = pay(payment, "20.00", method="cash")
    last = pay(payment, "40.00", method="card")

    body = receipts.render_receipt(last)[1]
    assert "For: Training\n" in body and "Method: Card\n" in body and "Reference" not in body
    assert body.endswith("Paid in full: £60.00.\n\nFitCRM Studio") or "Paid in full: £60.00." in body
    assert "still to pay: £40.00" in receipts.render_receipt(first)[1]


def test_a_client_who_cannot_take_email_is_refused_with_the_reason(trainer):
    no_address = ClientFactory(trainer=trainer, email="")
    receipt = pay(PaymentFactory(client=no_address), "5.00")
    with pytest.raises(Exception) as exc:
        receipts.receipt_email(receipt=receipt)
    assert exc.value.messages[0].startswith("Not emailed: ")
    assert not Message.objects.exists()


def test_the_studio_template_is_used_and_checked_when_saved(ann):
    template = receipts.receipt_template()
    template.subject_template = "{{ studio_name }}: {{ receipt_number }}"
    template.body_template = "{{ receipt_amount }} by {{ receipt_method }} for {{ payment_description }}"
    template.full_clean()
    template.save()
    receipt = pay(PaymentFactory(client=ann, description="Boxing"), "45.00", method="cash")
    assert receipts.render_receipt(receipt) == (
        f"FitCRM Studio: {receipt.label}",
        "£45.00 by Cash for Boxing",
    )

    template.body_template = "{{ client.email }} {{ session_date }} {% load x %}"
    with pytest.raises(Exception) as exc:
        template.full_clean()
    assert "body_template" in exc.value.message_dict


class TestAutomatic:
    def test_switched_on_every_new_receipt_is_emailed_once(
        self, ann, q_sync, django_capture_on_commit_callbacks
    ):
        ReceiptTemplate.objects.update_or_create(pk=1, defaults={"send_automatically": True})
        payment = PaymentFactory(client=ann, amount=Decimal("60.00"))

        with django_capture_on_commit_callbacks(execute=True):
            receipt = pay(payment, "60.00", method="card")

        message = Message.objects.get()
        assert receipt.label in message.subject
        # A repeated task finds the receipt already emailed.
        assert receipts.email_receipt_automatically(receipt_id=receipt.pk) == "already emailed"
        assert Message.objects.count() == 1

    def test_switched_off_nothing_is_queued(self, ann, q_sync, django_capture_on_commit_callbacks):
        receipts.receipt_template()  # the default: off
        payment = PaymentFactory(client=ann)
        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            pay(payment, "10.00")
        assert callbacks == []
        assert not Message.objects.exists()

    def test_a_client_without_email_consent_is_skipped_not_claimed(self, trainer, q_sync):
        ReceiptTemplate.objects.update_or_create(pk=1, defaults={"send_automatically": True})
        client = ClientFactory(trainer=trainer, email="x@example.com", email_reminders=False)
        receipt = pay(PaymentFactory(client=client), "10.00")
        assert receipts.email_receipt_automatically(receipt_id=receipt.pk).startswith("not emailed: ")
        receipt.refresh_from_db()
        assert receipt.emailed_at is None


class TestAdmin:
    def test_the_email_page_previews_and_sends(self, trainer_client, ann):
        payment = PaymentFactory(client=ann, amount=Decimal("60.00"))
        receipt = pay(payment, "60.00", method="cash")
        url = f"/admin/billing/payment/{payment.pk}/email-receipt/"

        page = trainer_client.get(url).content.decode()
        assert f"Receipt {receipt.label} from FitCRM Studio" in page and "Paid in full: £60.00." in page
        assert not Message.objects.exists()

        response = trainer_client.post(url, {"receipt": receipt.pk}, follow=True)
        assert [str(m) for m in response.context["messages"]] == [
            f"Receipt {receipt.label} emailed to ann@example.com."
        ]
        assert Message.objects.get().sent_by.username == "trainer_a"

    def test_the_bulk_action_emails_the_latest_receipt_and_names_what_it_could_not(self, trainer_client, ann):
        paid = PaymentFactory(client=ann, amount=Decimal("30.00"))
        pay(paid, "10.00")
        latest = pay(paid, "20.00")
        unpaid = PaymentFactory(client=ann)
        response = trainer_client.post(
            "/admin/billing/payment/",
            {"action": "email_receipts", "_selected_action": [paid.pk, unpaid.pk]},
            follow=True,
        )
        texts = [str(m) for m in response.context["messages"]]
        assert "1 receipt(s) emailed." in texts
        assert "1 payment(s) have no money received yet: no receipt to email." in texts
        assert latest.label in Message.objects.get().subject

    def test_receipts_list_action_emails_each(self, trainer_client, ann):
        a = pay(PaymentFactory(client=ann), "10.00")
        b = pay(PaymentFactory(client=ann), "12.00")
        trainer_client.post(
            "/admin/billing/receipt/", {"action": "email_receipts", "_selected_action": [a.pk, b.pk]}
        )
        assert Message.objects.count() == 2

    def test_a_manager_edits_the_template_and_a_bad_one_is_a_form_error(self, manager_client):
        response = manager_client.get("/admin/messaging/receipttemplate/", follow=True)
        assert response.status_code == 200
        assert "receipt_number" in response.content.decode()
        response = manager_client.post(
            "/admin/messaging/receipttemplate/1/change/",
            {"send_automatically": "on", "subject_template": "Receipt", "body_template": "{{ password }}"},
        )
        assert response.status_code == 200
        errors = response.context["adminform"].form.errors["body_template"]
        assert errors[0].startswith("Unknown variable 'password'. Valid variables: amount, amount_owed,")
        assert not ReceiptTemplate.objects.exists()  # the page showed the defaults without saving them

        response = manager_client.post(
            "/admin/messaging/receipttemplate/1/change/",
            {
                "send_automatically": "on",
                "subject_template": "Receipt {{ receipt_number }}",
                "body_template": "Thanks {{ first_name }}: {{ receipt_amount }}.",
            },
        )
        assert response.status_code == 302
        saved = ReceiptTemplate.objects.get()
        assert (saved.pk, saved.send_automatically) == (1, True)

    def test_a_trainer_cannot_edit_the_studio_template(self, trainer_client):
        assert trainer_client.get("/admin/messaging/receipttemplate/").status_code == 403


def test_payment_rules_can_say_what_is_still_owed(ann):
    payment = PaymentFactory(client=ann, amount=Decimal("60.00"))
    pay(payment, "45.00")
    assert context_for(client=ann, payment=payment, names={"amount", "amount_owed"}) == {
        "amount": "£60.00",
        "amount_owed": "£15.00",
    }
