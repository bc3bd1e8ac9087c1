"""Client writes through the service, and the one consent question (can_receive)."""

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from clients.models import Category, Channel, Client, ConsentChange
from clients.services import (
    client_email_unsubscribe,
    client_save,
    client_set_preference,
    client_sms_opt_in,
    client_sms_opt_out,
)
from tests.factories import ClientFactory

pytestmark = pytest.mark.django_db


def new_client(trainer, **fields):
    return Client(trainer=trainer, first_name="Pat", **fields)


class TestClientSave:
    def test_normalises_email_and_phone(self, trainer):
        client = client_save(client=new_client(trainer, email=" Pat@Example.COM", phone="07911 123456"))
        client.refresh_from_db()
        assert (client.email, str(client.phone)) == ("pat@example.com", "+447911123456")

    @pytest.mark.parametrize(
        ("fields", "field", "message"),
        [
            ({"phone": "12345"}, "phone", "The phone number entered is not valid."),
            ({"phone": "+44 7700 900123"}, "phone", "The phone number entered is not valid."),
            ({"timezone": "Europe/Atlantis"}, "timezone", "is not a known time zone"),
            ({"email": "pat@"}, "email", "Enter a valid email address."),
            ({"status": "vip"}, "status", "is not a valid choice"),
        ],
    )
    def test_refuses_bad_values_with_a_clear_message(self, trainer, fields, field, message):
        with pytest.raises(ValidationError) as exc:
            client_save(client=new_client(trainer, **fields))
        assert message in " ".join(exc.value.message_dict[field])
        assert not Client.objects.exists()

    def test_one_email_per_trainer_whatever_the_case(self, trainer, other_trainer):
        client_save(client=new_client(trainer, email="pat@example.com"))
        with pytest.raises(ValidationError, match="This trainer already has a client with this email."):
            client_save(client=new_client(trainer, email="PAT@example.com"))
        client_save(client=new_client(other_trainer, email="pat@example.com"))
        assert Client.objects.count() == 2


class TestCanReceive:
    def test_reminders_are_on_and_marketing_needs_consent(self, client_obj):
        assert client_obj.can_receive(Channel.EMAIL, Category.TRANSACTIONAL)
        assert client_obj.can_receive(Channel.SMS, Category.TRANSACTIONAL)
        assert not client_obj.can_receive(Channel.EMAIL, Category.MARKETING)
        assert (
            client_obj.cannot_receive_reason(Channel.SMS, Category.MARKETING) == "no consent to marketing SMS"
        )

    def test_consent_is_recorded_with_its_source(self, client_obj):
        client_set_preference(
            client=client_obj,
            channel=Channel.EMAIL,
            category=Category.MARKETING,
            granted=True,
            source=ConsentChange.Source.STAFF,
        )
        client_obj.refresh_from_db()
        assert client_obj.can_receive(Channel.EMAIL, Category.MARKETING)
        change = client_obj.consent_changes.get()
        assert (change.channel, change.category, change.granted, change.source) == (
            "email",
            "marketing",
            True,
            "staff",
        )

    def test_stop_stops_everything_on_sms_until_start(self, client_obj):
        client_obj.sms_marketing = True
        client_sms_opt_out(client=client_obj, source=ConsentChange.Source.SMS_KEYWORD)
        client_obj.refresh_from_db()
        assert not client_obj.can_receive(Channel.SMS, Category.TRANSACTIONAL)
        assert client_obj.cannot_receive_reason(Channel.SMS) == "opted out of SMS (STOP)"
        assert client_obj.can_receive(Channel.EMAIL)
        client_sms_opt_in(client=client_obj, source=ConsentChange.Source.SMS_KEYWORD)
        client_obj.refresh_from_db()
        assert client_obj.can_receive(Channel.SMS)

    def test_unsubscribe_stops_all_email(self, client_obj):
        client_email_unsubscribe(client=client_obj, source=ConsentChange.Source.UNSUBSCRIBE_LINK)
        client_obj.refresh_from_db()
        assert client_obj.cannot_receive_reason(Channel.EMAIL) == "unsubscribed from email"

    def test_no_address_means_no_message_on_that_channel(self, trainer):
        client = ClientFactory(trainer=trainer, email="", phone="")
        assert client.cannot_receive_reason(Channel.EMAIL) == "no email address"
        assert client.cannot_receive_reason(Channel.SMS) == "no mobile number"
        assert client.can_receive(Channel.IN_APP)

    def test_a_suppressed_address_is_not_emailed(self, trainer):
        client = ClientFactory(
            trainer=trainer, email_suppressed_at=timezone.now(), email_suppressed_reason="bounce"
        )
        assert client.cannot_receive_reason(Channel.EMAIL) == "email address suppressed (bounce)"


def test_staff_changing_contact_preferences_is_recorded_with_source_staff(client_obj):
    client_obj.email_marketing = True
    client_obj.sms_reminders = False
    client_save(client=client_obj)

    changes = {(c.channel, c.category, c.granted, c.source) for c in client_obj.consent_changes.all()}
    assert changes == {
        ("email", "marketing", True, "staff"),
        ("sms", "transactional", False, "staff"),
    }


def test_saving_a_client_without_preference_changes_records_nothing(client_obj):
    client_obj.notes = "Knee injury, no lunges."
    client_save(client=client_obj)
    assert not client_obj.consent_changes.exists()


def test_a_new_client_with_marketing_consent_gets_a_record(trainer):
    client = client_save(client=new_client(trainer, email="new@example.com", email_marketing=True))
    assert client.consent_changes.filter(channel="email", category="marketing", granted=True).exists()
