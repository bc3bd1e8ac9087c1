"""Client data entry: clear errors for bad phone / time zone / email, normalised storage, no 500s."""

import pytest
from django.core.exceptions import ValidationError

from clients.models import Client
from tests.factories import ClientFactory
from tests.support.admin_forms import submit

pytestmark = pytest.mark.django_db
ADD_URL = "/admin/clients/client/add/"
PHONE_ERROR = "Enter a valid phone number (e.g. 0121 234 5678) or a number with an international call prefix."
TZ_ERROR = (
    "“{}” is not a known time zone. Use an IANA name such as Europe/London or America/New_York, "
    "or leave it blank for the studio's time zone."
)


def change_url(client):
    return f"/admin/clients/client/{client.pk}/change/"


def form_errors(response):
    assert response.status_code == 200, "expected the form again, with errors"
    return response.context["adminform"].form.errors


class TestPhone:
    @pytest.mark.parametrize(
        ("typed", "stored"),
        [
            ("07911 123456", "+447911123456"),
            ("+44 (0)7911-123-456", "+447911123456"),
            ("+1 212 555 0123", "+12125550123"),
            ("", ""),
        ],
    )
    def test_any_common_format_is_stored_as_e164(self, trainer_client, typed, stored):
        response = submit(trainer_client, ADD_URL, first_name="Pat", phone=typed)
        assert response.status_code == 302
        assert str(Client.objects.get(first_name="Pat").phone) == stored

    @pytest.mark.parametrize("typed", ["not a phone", "123", "07700 900123", "+44" + "9" * 30, "☎☎☎"])
    def test_a_malformed_phone_is_a_clear_form_error(self, trainer_client, typed):
        response = submit(trainer_client, ADD_URL, first_name="Pat", phone=typed)
        assert form_errors(response)["phone"] == [PHONE_ERROR]
        assert not Client.objects.exists()

    def test_model_validation_gives_the_same_message(self, trainer):
        with pytest.raises(ValidationError) as exc:
            ClientFactory.build(trainer=trainer, phone="not a phone").full_clean()
        assert exc.value.message_dict["phone"] == ["The phone number entered is not valid."]


class TestTimeZone:
    @pytest.mark.parametrize("typed", ["America/New_York", "Australia/Sydney", ""])
    def test_iana_names_or_blank_are_accepted(self, trainer_client, typed):
        assert submit(trainer_client, ADD_URL, first_name="Pat", timezone=typed).status_code == 302
        assert Client.objects.get().timezone == typed

    @pytest.mark.parametrize("typed", ["Mars/Olympus_Mons", "GMT+25", "europe/nowhere", "../../etc/passwd"])
    def test_an_unknown_time_zone_is_a_clear_form_error(self, trainer_client, typed):
        response = submit(trainer_client, ADD_URL, first_name="Pat", timezone=typed)
        assert form_errors(response)["timezone"] == [TZ_ERROR.format(typed)]
        assert not Client.objects.exists()

    def test_model_validation_refuses_it_too(self, trainer):
        with pytest.raises(ValidationError) as exc:
            ClientFactory.build(trainer=trainer, timezone="Mars/Olympus_Mons").full_clean()
        assert exc.value.message_dict["timezone"] == [TZ_ERROR.format("Mars/Olympus_Mons")]

    def test_the_field_suggests_iana_names(self, trainer_client):
        body = trainer_client.get(ADD_URL).content.decode()
        assert 'list="id_timezone-options"' in body
        assert '<datalist id="id_timezone-options">' in body
        assert '<option value="America/New_York">' in body

    def test_a_blank_time_zone_means_the_studios(self, trainer, settings):
        assert str(ClientFactory.build(trainer=trainer, timezone="").tzinfo) == settings.STUDIO_TIME_ZONE
        assert str(ClientFactory.build(trainer=trainer, timezone="Asia/Tokyo").tzinfo) == "Asia/Tokyo"


class TestEmail:
    def test_is_stored_lowercase_and_stripped_when_a_trainer_adds_a_client(self, trainer_client):
        submit(trainer_client, ADD_URL, first_name="Pat", email="  Pat.Lee@Example.COM ")
        assert Client.objects.get().email == "pat.lee@example.com"

    def test_is_normalised_when_a_manager_adds_a_client(self, manager_client, trainer):
        submit(manager_client, ADD_URL, first_name="Pat", email="PAT@EXAMPLE.COM", trainer=trainer.pk)
        assert Client.objects.get().email == "pat@example.com"

    def test_is_normalised_when_a_client_is_changed(self, trainer_client, client_obj):
        submit(trainer_client, change_url(client_obj), email="New.Address@Example.Com")
        client_obj.refresh_from_db()
        assert client_obj.email == "new.address@example.com"

    def test_a_malformed_email_is_a_form_error(self, trainer_client):
        response = submit(trainer_client, ADD_URL, first_name="Pat", email="pat@@example")
        assert form_errors(response)["email"] == ["Enter a valid email address."]

    def test_a_trainers_duplicate_email_is_a_form_error_not_a_500(self, trainer_client, trainer):
        ClientFactory(trainer=trainer, email="pat@example.com")
        response = submit(trainer_client, ADD_URL, first_name="Pat", email="PAT@example.com")
        assert form_errors(response)["email"] == ["You already have a client with this email."]
        assert Client.objects.count() == 1

    def test_a_duplicate_email_on_change_is_a_form_error(self, trainer_client, trainer, client_obj):
        ClientFactory(trainer=trainer, email="taken@example.com")
        response = submit(trainer_client, change_url(client_obj), email="Taken@Example.com")
        assert form_errors(response)["email"] == ["You already have a client with this email."]

    def test_a_manager_assigning_a_duplicate_is_a_form_error(self, manager_client, trainer, other_trainer):
        ClientFactory(trainer=trainer, email="pat@example.com")
        response = submit(
            manager_client, ADD_URL, first_name="Pat", email="pat@example.com", trainer=trainer.pk
        )
        assert form_errors(response)["email"] == ["This trainer already has a client with this email."]
        moving = ClientFactory(trainer=other_trainer, email="pat@example.com")
        response = submit(manager_client, change_url(moving), trainer=trainer.pk)
        assert form_errors(response)["email"] == ["This trainer already has a client with this email."]
        moving.refresh_from_db()
        assert moving.trainer == other_trainer

    def test_two_trainers_may_each_have_the_same_person(self, trainer_client, other_trainer):
        ClientFactory(trainer=other_trainer, email="pat@example.com")
        assert submit(trainer_client, ADD_URL, first_name="Pat", email="pat@example.com").status_code == 302
        assert Client.objects.filter(email="pat@example.com").count() == 2

    def test_many_clients_may_have_no_email(self, trainer_client, trainer):
        ClientFactory(trainer=trainer, email="")
        assert submit(trainer_client, ADD_URL, first_name="Pat", email="").status_code == 302


def test_a_required_field_left_blank_is_a_form_error(trainer_client):
    response = submit(trainer_client, ADD_URL, first_name="")
    assert form_errors(response)["first_name"] == ["This field is required."]


def test_a_bad_birth_date_is_a_form_error(trainer_client):
    response = submit(trainer_client, ADD_URL, first_name="Pat", birth_date="31/02/1990")
    assert form_errors(response)["birth_date"] == ["Enter a valid date."]


def test_the_client_page_lists_the_clients_sessions_and_payments(trainer_client, client_obj):
    from tests.factories import PaymentFactory, SessionFactory

    SessionFactory(client=client_obj, location="Rooftop")
    PaymentFactory(client=client_obj, description="Spring pack")
    body = trainer_client.get(change_url(client_obj)).content.decode()
    assert "Rooftop" in body
    assert "Spring pack" in body
