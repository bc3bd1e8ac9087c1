"""CSV import of clients through the admin, on PostgreSQL.

    DATABASE_URL=postgres://... python -m bench imports [--rows 10000] [--role manager|trainer]

The file is what a studio re-imports after editing an export: 40% of the rows carry
an ``id`` (half of those changed: a name, a contact preference, the tags; half
untouched), 20% have no id and match an existing client by trainer and email, 40% are
new clients, across three trainers and a handful of tags. It goes through the admin's
own views with Django's test client, exactly as a browser would: the upload and
preview (``import/``, a dry run rendered as the preview page), then the confirmation
(``process_import/``). Reported per step and together: seconds, rows/s, queries, and the
benchmark process's own CPU seconds with the load average (on a shared machine the wall
time also counts waiting for a core). Target: >= 500 rows/s for preview and confirmation
together.
"""

import argparse
import csv
import io
import os
import re
import time
from collections import Counter
from html import unescape

from django.db import connection
from django.test.utils import override_settings

from clients.resources import ClientResource

PREFIX = "bench-imports"
TRAINERS = 3
TAGS = ["strength", "yoga", "rehab", "running", "pilates"]
LIST = "/admin/clients/client/"
COLUMNS = list(ClientResource.Meta.fields)  # the CSV columns, as the admin exports them


def _require_postgres():
    if connection.vendor != "postgresql" or not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        raise SystemExit("bench imports needs PostgreSQL: set DATABASE_URL=postgres://...")


def _cleanup():
    from django.contrib.admin.models import LogEntry

    from clients.models import Client, Tag

    LogEntry.objects.filter(user__username__startswith=PREFIX).delete()
    Client.objects.filter(trainer__username__startswith=PREFIX).delete()
    Tag.objects.filter(name__startswith=PREFIX).delete()


def _seed(rows: int, role: str):
    """Trainers, a manager and the existing clients the file updates (60% of ``rows``).

    For a trainer's import every existing client is the first trainer's.
    """
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    from clients.models import Client, Tag
    from clients.roles import TRAINER

    User = get_user_model()
    trainer_group = Group.objects.get(name=TRAINER)
    trainers = []
    for i in range(TRAINERS):
        user, _ = User.objects.get_or_create(
            username=f"{PREFIX}-t{i}",
            defaults={"is_staff": True, "first_name": "Bench", "last_name": f"T{i}"},
        )
        user.groups.add(trainer_group)
        trainers.append(user)
    manager, _ = User.objects.get_or_create(
        username=f"{PREFIX}-manager", defaults={"is_staff": True, "is_superuser": True}
    )
    tags = [Tag.objects.get_or_create(name=f"{PREFIX}-{name}")[0] for name in TAGS]
    owners = trainers[:1] if role == "trainer" else trainers
    existing = Client.objects.bulk_create(
        [
            Client(
                trainer=owners[i % len(owners)],
                first_name=f"Client{i}",
                last_name="Bench",
                email=f"bench{i}@example.com",
                phone=f"+4477{i:08d}",
                birth_date=f"19{50 + i % 50}-0{1 + i % 9}-1{i % 9}",
                timezone=["", "America/New_York", "Europe/London"][i % 3],
                notes="Regular" if i % 4 else "",
            )
            for i in range(rows * 6 // 10)
        ],
        batch_size=5000,
    )
    Through = Client.tags.through
    Through.objects.bulk_create(
        [Through(client_id=c.pk, tag_id=tags[c.pk % len(tags)].pk) for c in existing],
        batch_size=5000,
    )
    with connection.cursor() as cursor:
        for table in ("clients_client", Through._meta.db_table):
            cursor.execute(f"ANALYZE {table}")
    return trainers, manager, existing


def _row(client, trainer, *, with_id=True, **changes):
    values = {
        "id": client.pk if with_id else "",
        "first_name": client.first_name,
        "last_name": client.last_name,
        "email": client.email,
        "phone": str(client.phone),
        "birth_date": client.birth_date,
        "timezone": client.timezone,
        "status": client.status,
        "trainer": trainer.username,
        "tags": f"{PREFIX}-{TAGS[client.pk % len(TAGS)]}" if client.pk else "",
        "notes": client.notes,
        "email_reminders": "1",
        "email_marketing": "0",
        "sms_reminders": "1",
        "sms_marketing": "0",
    }
    return values | changes


def build_csv(rows: int, trainers, existing) -> str:
    """The edited export described in the module docstring, as CSV text."""
    from clients.models import Client

    by_id = existing[: rows * 4 // 10]
    by_email = existing[rows * 4 // 10 : rows * 6 // 10]
    trainer_of = {t.pk: t for t in trainers}
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS)
    writer.writeheader()
    for i, client in enumerate(by_id):
        client.birth_date = str(client.birth_date)
        trainer = trainer_of[client.trainer_id]
        if i % 2:
            writer.writerow(_row(client, trainer))  # unchanged
        else:
            writer.writerow(
                _row(
                    client,
                    trainer,
                    first_name=f"Renamed{i}",
                    email_marketing="1" if i % 4 == 0 else "0",
                    tags=f"{PREFIX}-yoga, {PREFIX}-strength",
                )
            )
    for i, client in enumerate(by_email):
        client.birth_date = str(client.birth_date)
        trainer = trainer_of[client.trainer_id]
        writer.writerow(
            _row(client, trainer, with_id=False, email=client.email.upper(), sms_marketing=str(i % 2))
        )
    for i in range(rows - len(by_id) - len(by_email)):
        new = Client(
            first_name=f"New{i}",
            last_name="Bench",
            email=f"new{i}@example.com",
            phone=f"+4478{i:08d}",
            birth_date=f"19{60 + i % 40}-1{i % 3}-2{i % 8}",
            timezone="Australia/Sydney" if i % 5 == 0 else "",
            notes="Walk-in",
        )
        writer.writerow(
            _row(
                new,
                trainers[i % len(trainers)],
                with_id=False,
                tags=f"{PREFIX}-running",
                email_marketing=str(i % 2),
            )
        )
    return out.getvalue()


def _timed(fn):
    kinds = Counter()

    def count(execute, sql, params, many, context):
        kinds[sql.split(None, 1)[0].upper()] += 1
        return execute(sql, params, many, context)

    with connection.execute_wrapper(count):
        start, cpu = time.perf_counter(), time.process_time()
        response = fn()
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    return response, seconds, cpu, sum(kinds.values()), dict(kinds)


def _confirm_form(html: str) -> dict:
    """The hidden fields of the preview page's confirmation form, as a browser posts them."""
    form = re.search(r'<form[^>]*action="[^"]*process_import/"[^>]*>(.*?)</form>', html, re.S)
    if form is None:
        errors = re.findall(r'<ul class="errorlist[^"]*">(.*?)</ul>', html, re.S)[:3]
        raise SystemExit(f"the preview offers no confirmation: {errors or html[:2000]}")
    fields = re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', form.group(1))
    return {name: unescape(value) for name, value in fields}


def bench_import(rows: int, role: str) -> dict:
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.test import Client as Browser

    from clients.models import Client, ConsentChange

    trainers, manager, existing = _seed(rows, role)
    if role == "trainer":
        # A trainer imports their own book (the trainer column is ignored for them).
        user = trainers[0]
        trainers = [user]
    else:
        user = manager
    text = build_csv(rows, trainers, existing)
    rows = text.count("\n") - 1
    browser = Browser()
    browser.force_login(user)
    clients_before = Client.objects.count()
    upload = SimpleUploadedFile("bench.csv", text.encode(), content_type="text/csv")

    preview, preview_s, preview_cpu, preview_q, preview_kinds = _timed(
        lambda: browser.post(LIST + "import/", {"import_file": upload, "format": "0", "resource": "0"})
    )
    assert preview.status_code == 200, preview.status_code
    confirm = _confirm_form(preview.content.decode())

    done, confirm_s, confirm_cpu, confirm_q, confirm_kinds = _timed(
        lambda: browser.post(LIST + "process_import/", confirm)
    )
    assert done.status_code == 302, done.status_code
    changelist = browser.get(done["Location"]).content.decode()
    summary = re.search(r"Import finished:[^<.]*", changelist)
    total_s = preview_s + confirm_s
    return {
        "role": role,
        "rows": rows,
        "csv_bytes": len(text.encode()),
        "summary": summary.group(0) if summary else None,
        "preview": {
            "seconds": round(preview_s, 2),
            "python_cpu_seconds": round(preview_cpu, 2),
            "rows_per_s": round(rows / preview_s),
            "queries": preview_q,
            "queries_by_kind": preview_kinds,
        },
        "confirm": {
            "seconds": round(confirm_s, 2),
            "python_cpu_seconds": round(confirm_cpu, 2),
            "rows_per_s": round(rows / confirm_s),
            "queries": confirm_q,
            "queries_by_kind": confirm_kinds,
        },
        "total_seconds": round(total_s, 2),
        # The web process's own CPU time: on a busy machine wall time also counts waiting.
        "python_cpu_seconds": round(preview_cpu + confirm_cpu, 2),
        "load_average_1min": round(os.getloadavg()[0], 1),
        "rows_per_s": round(rows / total_s),
        "clients_added": Client.objects.count() - clients_before,
        "consent_changes_recorded": ConsentChange.objects.filter(
            client__trainer__in=trainers, source=ConsentChange.Source.IMPORT
        ).count(),
        "target_rows_per_s": 500,
        "within_target": rows / total_s >= 500,
    }


def run(args) -> dict:
    parser = argparse.ArgumentParser(prog="bench imports")
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--role", choices=["manager", "trainer"], default="manager")
    opts = parser.parse_args(args)
    _require_postgres()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    _cleanup()
    try:
        with override_settings(ALLOWED_HOSTS=["testserver"], DEBUG=False):
            result = bench_import(opts.rows, opts.role)
    finally:
        _cleanup()
    return {"database": "postgresql", **result}
