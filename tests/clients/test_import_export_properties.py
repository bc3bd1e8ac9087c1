"""Generated CSV files against the client import and export (Hypothesis).

1. Whatever the file holds (cells of any text: NUL, formulas, line breaks, crafted ids,
   odd digits, long values; rows too short or too long; columns missing), the preview
   answers with a page, never an exception, and when it offers a confirmation the
   confirmation answers with a redirect.
2. Any text a client's name or notes hold is exported and imported back unchanged, and
   no exported cell starts with a character a spreadsheet would run.

Modest example counts and no deadline keep it quick enough for CI; no example database
is written.
"""

import csv
import io
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clients.models import Client
from clients.resources import FORMULA_PREFIXES, ClientResource
from tests.clients.test_import_export import LIST, export
from tests.factories import ClientFactory

pytestmark = pytest.mark.django_db
PROPERTY = settings(
    max_examples=40,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
COLUMNS = list(ClientResource.Meta.fields)  # the CSV columns, as the admin exports them

any_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=30)
awkward = st.sampled_from(
    [
        "",
        " ",
        "\x00",
        "=1+1",
        "'=1+1",
        "+SUM(1)",
        "-2+3",
        "@SUM(1)",
        "\t=1",
        "²",
        "٣",
        "９",
        "0",
        "-1",
        "99999999999999999999999999",
        "1.5",
        "None",
        "ada@example.com",
        "ADA@EXAMPLE.COM",
        "not-an-email",
        "07911 123456",
        "+447911123456",
        "1990-02-31",
        "1990-01-01",
        "Europe/London",
        "Mars/Base",
        "active",
        "lead",
        "retired",
        "trainer_a",
        "trainer_b",
        "nobody",
        "yoga, strength",
        ",,,",
        "1",
        "true",
        "x" * 300,
    ]
)
cells = st.one_of(awkward, any_text)
#: Mostly valid values per column, so that many files reach the confirmation.
usual = {
    "id": st.just(""),
    "first_name": st.text(st.characters(blacklist_categories=("Cs", "Cc", "Zs")), min_size=1, max_size=20),
    "last_name": any_text,
    "email": st.sampled_from(["", "ada@example.com", "ADA@example.com ", "bo@example.com"]),
    "phone": st.sampled_from(["", "07911 123456", "+447911123457"]),
    "birth_date": st.sampled_from(["", "1990-01-01"]),
    "timezone": st.sampled_from(["", "Europe/London"]),
    "status": st.sampled_from(["active", "lead", "inactive"]),
    "trainer": st.sampled_from(["trainer_a", "trainer_b"]),
    "tags": st.sampled_from(["", "yoga", "yoga, strength", "=cmd|' /C calc'!A0"]),
    "notes": any_text,
}
usual_row = st.tuples(*[usual.get(c, st.sampled_from(["0", "1"])) for c in COLUMNS]).map(list)


def _spoil(row_and_cell):
    (row, column, cell) = row_and_cell
    if column is not None:
        row[column] = cell
    return row


headers = st.one_of(
    st.just(COLUMNS),
    st.lists(st.sampled_from(COLUMNS), min_size=1, max_size=len(COLUMNS), unique=True).map(
        lambda h: ["id", *[c for c in h if c != "id"]]
    ),
)
#: A file is either cells of anything under any columns, or usual rows with now and
#: then one cell of anything.
files = st.one_of(
    st.tuples(headers, st.lists(st.lists(cells, max_size=len(COLUMNS) + 2), max_size=6)),
    st.tuples(
        st.just(COLUMNS),
        st.lists(
            st.tuples(usual_row, st.one_of(st.none(), st.integers(0, len(COLUMNS) - 1)), cells).map(_spoil),
            min_size=1,
            max_size=6,
        ),
    ),
)


def as_csv(header, body) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(body)
    return out.getvalue().encode()


def upload(http, content: bytes):
    file = SimpleUploadedFile("clients.csv", content, content_type="text/csv")
    return http.post(LIST + "import/", {"import_file": file, "format": "0", "resource": "0"})


@pytest.mark.parametrize("role", ["trainer", "manager"])
@PROPERTY
@given(file=files, ids=st.sampled_from(["none", "mine", "mixed"]))
def test_any_file_gives_a_preview_and_any_offered_confirmation_succeeds(
    client, trainer, other_trainer, manager, role, file, ids
):
    header, body = file
    client.force_login(trainer if role == "trainer" else manager)
    if ids != "none":
        # Real ids in the id column: the trainer's own client, and someone else's.
        mine = ClientFactory(trainer=trainer).pk
        theirs = ClientFactory(trainer=other_trainer).pk if ids == "mixed" else mine
        body = [[str(theirs if i % 2 else mine), *r[1:]] for i, r in enumerate(body)]

    response = upload(client, as_csv(header, body))

    assert response.status_code == 200
    confirm = response.context.get("confirm_form")
    if confirm is not None:
        done = client.post(LIST + "process_import/", {**confirm.initial, "format": "0", "resource": "0"})
        assert done.status_code == 302


names = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00\r"), min_size=1, max_size=40
)


@PROPERTY
@given(
    first_name=names,
    last_name=names,
    notes=st.one_of(
        names,
        awkward.filter(lambda v: "\x00" not in v),
        st.tuples(st.sampled_from(["'", "''"]), st.sampled_from(["=", "+1", "-", "@", "'", "x"]), names).map(
            "".join
        ),
    ),
)
def test_exported_text_is_safe_in_a_spreadsheet_and_imports_back_unchanged(
    trainer_client, trainer, first_name, last_name, notes
):
    first_name, last_name = first_name.strip() or "x", last_name.strip()
    Client.objects.all().delete()
    client = ClientFactory(trainer=trainer, first_name=first_name, last_name=last_name, notes=notes)

    rows = export(trainer_client)
    for cell in (rows[0]["first_name"], rows[0]["last_name"], rows[0]["notes"]):
        assert not cell.startswith(FORMULA_PREFIXES) or re.fullmatch(r"[+-]?[0-9]+(\.[0-9]+)?", cell)

    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    response = upload(trainer_client, out.getvalue().encode())
    result = response.context["result"]
    assert not result.has_errors() and not result.has_validation_errors()
    [row] = result.valid_rows()
    assert row.import_type == "skip"  # nothing changed on the way out and back in
    client.refresh_from_db()
    assert (client.first_name, client.last_name, client.notes) == (first_name, last_name, notes)
