"""CSV import and export of clients in the admin, scoped to the trainer."""

import csv
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from clients.models import Client, ConsentChange
from tests.factories import ClientFactory, TagFactory
from tests.support.admin_forms import form_data

pytestmark = pytest.mark.django_db
LIST = "/admin/clients/client/"
HEADER = "id,first_name,last_name,email,phone,birth_date,timezone,status,trainer,tags,notes,email_marketing"


def export(http):
    page = http.get(LIST + "export/")
    response = http.post(LIST + "export/", form_data(page))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(response.content.decode())))


def dry_run(http, text, name="clients.csv"):
    upload = SimpleUploadedFile(name, text.encode(), content_type="text/csv")
    response = http.post(LIST + "import/", {"import_file": upload, "format": "0", "resource": "0"})
    assert response.status_code == 200
    return response


def import_csv(http, text, name="clients.csv"):
    """Upload, check the dry run is clean, confirm; returns the confirmation's response."""
    response = dry_run(http, text, name)
    result = response.context["result"]
    assert not result.has_errors(), [e.error for e in result.base_errors]
    assert not result.has_validation_errors(), [r.error_dict for r in result.invalid_rows]
    confirm = response.context["confirm_form"]
    return http.post(
        LIST + "process_import/", {**confirm.initial, "format": "0", "resource": "0"}, follow=True
    )


def invalid_rows(response):
    return {
        row.number: {field: [str(m) for m in msgs] for field, msgs in row.error_dict.items()}
        for row in response.context["result"].invalid_rows
    }


class TestExport:
    def test_a_trainer_exports_only_their_own_clients(self, trainer_client, trainer, other_trainer):
        mine = ClientFactory(
            trainer=trainer, first_name="Mine", phone="07911 123456", birth_date="1990-04-02"
        )
        mine.tags.add(TagFactory(name="yoga"), TagFactory(name="rehab"))
        ClientFactory(trainer=other_trainer, first_name="Theirs")
        [row] = export(trainer_client)
        assert row["id"] == str(mine.pk)
        assert (row["first_name"], row["trainer"], row["phone"]) == ("Mine", "trainer_a", "+447911123456")
        assert (row["birth_date"], row["tags"]) == ("1990-04-02", "rehab,yoga")

    def test_a_manager_exports_the_whole_studio(self, manager_client, trainer, other_trainer):
        ClientFactory(trainer=trainer)
        ClientFactory(trainer=other_trainer)
        assert {r["trainer"] for r in export(manager_client)} == {"trainer_a", "trainer_b"}

    def test_the_export_follows_the_lists_search(self, trainer_client, trainer):
        ClientFactory(trainer=trainer, first_name="Alice")
        ClientFactory(trainer=trainer, first_name="Bob")
        page = trainer_client.get(LIST + "export/?q=Alice")
        response = trainer_client.post(LIST + "export/?q=Alice", form_data(page))
        assert [r["first_name"] for r in csv.DictReader(io.StringIO(response.content.decode()))] == ["Alice"]

    @pytest.mark.parametrize(
        "query", ["status__exact=%00", "q=%00", "created_at__year=abc", "tags__id__exact=abc", "o=abc"]
    )
    def test_malformed_list_filters_on_the_export_are_not_a_500(self, trainer_client, trainer, query):
        ClientFactory(trainer=trainer)
        page = trainer_client.get(f"{LIST}export/?{query}")
        assert page.status_code in (200, 400)
        data = form_data(page) if page.status_code == 200 else {"format": "0", "resource": "0"}
        assert trainer_client.post(f"{LIST}export/?{query}", data).status_code in (200, 400)


class TestTrainerImport:
    def test_imported_clients_are_the_trainers_own_and_normalised(
        self, trainer_client, trainer, other_trainer
    ):
        text = (
            f"{HEADER}\n"
            ",Ada,Lane,  Ada.Lane@Example.COM ,07911 123456,1988-07-01,America/New_York,active,trainer_b,"
            '"yoga, strength",Knee,1\n'
            ",Bo,,,,,,lead,,,,0\n"
        )
        response = import_csv(trainer_client, text)
        assert response.status_code == 200
        ada = Client.objects.get(first_name="Ada")
        assert ada.trainer == trainer  # not trainer_b: a trainer imports their own clients
        assert (ada.email, str(ada.phone), ada.timezone) == (
            "ada.lane@example.com",
            "+447911123456",
            "America/New_York",
        )
        assert sorted(ada.tags.values_list("name", flat=True)) == ["strength", "yoga"]
        assert ada.email_marketing is True
        assert Client.objects.get(first_name="Bo").trainer == trainer
        consent = ConsentChange.objects.get(client=ada)
        assert (consent.channel, consent.category, consent.granted, consent.source) == (
            "email",
            "marketing",
            True,
            "import",
        )

    def test_reimporting_an_edited_export_updates_instead_of_duplicating(self, trainer_client, trainer):
        client = ClientFactory(trainer=trainer, first_name="Old", email="old@example.com")
        rows = export(trainer_client)
        rows[0]["first_name"] = "New"
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
        import_csv(trainer_client, out.getvalue())
        client.refresh_from_db()
        assert client.first_name == "New"
        assert Client.objects.count() == 1

    def test_a_row_without_id_matches_the_trainers_client_by_email(
        self, trainer_client, trainer, other_trainer
    ):
        mine = ClientFactory(trainer=trainer, email="pat@example.com", first_name="Pat")
        theirs = ClientFactory(trainer=other_trainer, email="pat@example.com", first_name="Pat")
        import_csv(trainer_client, f"{HEADER}\n,Patricia,,PAT@example.com,,,,active,,,,0\n")
        mine.refresh_from_db()
        theirs.refresh_from_db()
        assert (mine.first_name, theirs.first_name) == ("Patricia", "Pat")
        assert Client.objects.count() == 2

    def test_another_trainers_client_id_is_refused_and_nothing_changes(self, trainer_client, other_trainer):
        theirs = ClientFactory(trainer=other_trainer, first_name="Theirs")
        response = dry_run(trainer_client, f"{HEADER}\n{theirs.pk},Hijacked,,,,,,active,,,,0\n")
        assert invalid_rows(response) == {
            1: {
                "id": [
                    f"There is no client #{theirs.pk} among your clients. Leave the id empty to add a new client."
                ]
            }
        }
        assert "confirm_form" not in response.context
        theirs.refresh_from_db()
        assert (theirs.first_name, theirs.trainer) == ("Theirs", other_trainer)

    def test_bad_rows_are_reported_with_clear_messages_and_nothing_is_imported(self, trainer_client, trainer):
        ClientFactory(trainer=trainer, email="taken@example.com")
        text = (
            f"{HEADER}\n"
            ",Ok,,ok@example.com,,,,active,,,,0\n"
            ",Phone,,,not a phone,,,active,,,,0\n"
            ",Zone,,,,,Mars/Base,active,,,,0\n"
            ",Mail,,not-an-email,,,,active,,,,0\n"
            ",Status,,,,,,retired,,,,0\n"
            ",Born,,,,31/02/1990,,active,,,,0\n"
            ",,,,,,,lead,,,,0\n"
            "abc,Id,,,,,,active,,,,0\n"
        )
        response = dry_run(trainer_client, text)
        errors = invalid_rows(response)
        assert errors[2] == {"phone": ["The phone number entered is not valid."]}
        assert "is not a known time zone" in errors[3]["timezone"][0]
        assert errors[4] == {"email": ["Enter a valid email address."]}
        assert "is not a valid choice" in errors[5]["status"][0]
        assert "birth_date" in errors[6]
        assert errors[7] == {"first_name": ["This field cannot be blank."]}
        assert errors[8] == {"id": ["“abc” is not a client number."]}
        assert 1 not in errors
        assert Client.objects.count() == 1

    @pytest.mark.parametrize(
        "content",
        [b"", b"\x00\x01\x02binary", b"just one line without the columns\n", "ümlaut;semi;colons\n".encode()],
    )
    def test_a_file_that_is_not_a_client_csv_is_an_error_not_a_500(self, trainer_client, content):
        upload = SimpleUploadedFile("junk.csv", content, content_type="text/csv")
        response = trainer_client.post(
            LIST + "import/", {"import_file": upload, "format": "0", "resource": "0"}
        )
        assert response.status_code == 200
        assert "confirm_form" not in response.context or not Client.objects.exists()
        assert not Client.objects.exists()


class TestManagerImport:
    def test_a_manager_names_the_trainer(self, manager_client, trainer, other_trainer):
        import_csv(manager_client, f"{HEADER}\n,Ada,,,,,,active,trainer_b,,,0\n")
        assert Client.objects.get().trainer == other_trainer

    def test_a_missing_or_unknown_trainer_is_a_clear_error(self, manager_client, trainer):
        response = dry_run(manager_client, f"{HEADER}\n,Ada,,,,,,active,,,,0\n,Bo,,,,,,active,nobody,,,0\n")
        assert invalid_rows(response) == {
            1: {"trainer": ["Name the client's trainer (a staff username)."]},
            2: {"trainer": ["No staff user with username “nobody”."]},
        }
        assert not Client.objects.exists()


def test_the_client_list_offers_import_and_export_to_a_trainer(trainer_client):
    body = trainer_client.get(LIST).content.decode()
    assert "/admin/clients/client/import/" in body
    assert "/admin/clients/client/export/" in body
