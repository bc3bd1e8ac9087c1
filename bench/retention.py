"""How big the history grows, and how fast prune_history bounds it, on PostgreSQL.

    DATABASE_URL=postgres://... python -m bench retention [--rows 200000]

Inserts ``--rows`` delivered reminder SMS (a realistic 160-character body, provider id,
addresses, timestamps) with two history events each (sent, delivered callback) and one
automation-log row each, all 800 days old, for a bench client and rule; measures the bytes
one message costs with its events and log row, tables and indexes included
(``pg_total_relation_size``); then times ``prune_history`` (730 days) deleting them all.
Everything it made is removed afterwards.
"""

import argparse
import os
import time
from datetime import timedelta

from django.db import connection
from django.utils import timezone

PREFIX = "bench-retention"
TABLES = ["messaging_message", "messaging_messageevent", "automation_automationlog"]


def _sizes() -> dict:
    sizes = {}
    with connection.cursor() as cursor:
        # Fresh visibility maps and statistics, so sizes are not inflated by dead rows.
        cursor.execute("VACUUM ANALYZE " + ", ".join(TABLES))
        for table in TABLES:
            cursor.execute("SELECT pg_total_relation_size(%s)", [table])
            sizes[table] = cursor.fetchone()[0]
    return sizes


def _sql(sql, params):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


def _seed(rows: int, at):
    from django.contrib.auth import get_user_model

    from automation.models import AutomationRule
    from clients.models import Client

    trainer, _ = get_user_model().objects.get_or_create(
        username=f"{PREFIX}-trainer", defaults={"is_staff": True}
    )
    client = Client.objects.create(
        first_name="Bench", last_name="Retention", phone="+447700900123", trainer=trainer
    )
    rule = AutomationRule.objects.create(
        name=f"{PREFIX} reminder",
        trigger_event="session_scheduled",
        channel="sms",
        body_template="Hi",
        trainer=trainer,
    )
    body = "Hi Bench, a reminder of your session tomorrow at 09:00 with Anna at Studio A. " * 2
    _sql(
        """
        INSERT INTO messaging_message (created_at, updated_at, client_id, channel, category, direction, subject,
            body, status, error, provider_id, to_address, from_address, attempts, sent_at, delivered_at, rule_id,
            attachments)
        SELECT %s, %s, %s, 'sms', 'transactional', 'out', '', %s, 'delivered', '', 'SM' || md5(g::text),
            '+447700900123', '+447700900000', 1, %s, %s, %s, '[]'::jsonb
        FROM generate_series(1, %s) g
        """,
        [at, at, client.pk, body[:160], at, at, rule.pk, rows],
    )
    _sql(
        """
        INSERT INTO messaging_messageevent (message_id, status, source, detail, event_id, created_at)
        SELECT m.id, s.status, s.source, '', CASE WHEN s.source = 'twilio' THEN 'SM' || m.id || ':delivered' ELSE '' END, %s
        FROM messaging_message m, (VALUES ('sent', 'worker'), ('delivered', 'twilio')) s(status, source)
        WHERE m.client_id = %s
        """,
        [at, client.pk],
    )
    _sql(
        """
        INSERT INTO automation_automationlog (rule_id, occurrence_key, status, client_id, message_id, error, created_at)
        SELECT %s, 'session:' || m.id || ':start=2024-01-01T09:00Z', 'sent', %s, m.id, '', %s
        FROM messaging_message m WHERE m.client_id = %s
        """,
        [rule.pk, client.pk, at, client.pk],
    )
    return client, rule


def _cleanup():
    from django.contrib.auth import get_user_model

    from automation.models import AutomationLog, AutomationRule
    from clients.models import Client
    from messaging.models import Message

    AutomationLog.objects.filter(rule__name=f"{PREFIX} reminder").delete()
    Message.objects.filter(
        client__last_name="Retention", client__trainer__username=f"{PREFIX}-trainer"
    ).delete()
    AutomationRule.objects.filter(name=f"{PREFIX} reminder").delete()
    Client.objects.filter(trainer__username=f"{PREFIX}-trainer").delete()
    get_user_model().objects.filter(username=f"{PREFIX}-trainer").delete()


def run(args) -> dict:
    parser = argparse.ArgumentParser(prog="bench retention")
    parser.add_argument("--rows", type=int, default=200_000)
    opts = parser.parse_args(args)
    if not os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")):
        raise SystemExit("bench retention needs PostgreSQL: set DATABASE_URL=postgres://...")
    from django.core.management import call_command

    from automation.retention import prune_history

    call_command("migrate", verbosity=0)
    _cleanup()
    now = timezone.now()
    before = _sizes()
    started = time.perf_counter()
    _seed(opts.rows, now - timedelta(days=800))
    seeded_s = time.perf_counter() - started
    after = _sizes()
    per_message = {t: round((after[t] - before[t]) / opts.rows) for t in TABLES}
    try:
        started = time.perf_counter()
        result = prune_history(days=730, now=now)
        prune_s = time.perf_counter() - started
    finally:
        _cleanup()
    return {
        "rows": opts.rows,
        "seed_seconds": round(seeded_s, 1),
        "bytes_per_message": per_message | {"total": sum(per_message.values())},
        "pruned": {k: v for k, v in result.items() if k != "cutoff"},
        "prune_seconds": round(prune_s, 1),
        "messages_pruned_per_second": round(result["messages"] / prune_s),
    }
