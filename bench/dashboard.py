"""The dashboard (/admin/) at studio-chain scale, on PostgreSQL.

    DATABASE_URL=postgres://... python -m bench dashboard                # 100k clients, 1M sessions,
                                                                         # 300k payments (~350k receipts),
                                                                         # 1M messages
    DATABASE_URL=postgres://... python -m bench dashboard --scale 0.1    # a smaller run

The data is generated in the database (``INSERT ... SELECT generate_series``) for
bench trainers only, first at ``--small`` of the scale, measured, then grown to the
full scale and measured again; it is removed afterwards, and other active rules are
paused while it runs. Fifty trainers; clients joined over three years (one in twelve
since marked inactive); sessions over three years and the coming month (completed,
no-shows, cancellations early and late); payments paid, overdue and pending, with
receipts for the money received (a third of the paid ones in two parts); messages
in every channel and status, a tenth of them from clients; six time-based rules.

Measured per size, for a trainer's page, a manager's whole studio and a manager who
picked one trainer: server time of ``GET /admin/`` through Django's test client
(middleware, the view and the template; fastest and median of ``--repeat`` after a
warm-up) and its number of queries. Targets: <= 300 ms and <= 20 queries at full
scale; the ratio of the two sizes shows what grows with the tables.
"""

import argparse
import logging
import os
import statistics
import time
from datetime import UTC, datetime, timedelta

from django.db import connection
from django.test.utils import CaptureQueriesContext

PREFIX = "bench-dash"
TRAINERS = 50


def _require_postgres():
    if connection.vendor != "postgresql" or not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        raise SystemExit("bench dashboard needs PostgreSQL: set DATABASE_URL=postgres://...")
    from django.core.management import call_command

    call_command("migrate", verbosity=0)  # a bench database lives across releases


def _sql(sql, params=None):
    with connection.cursor() as cursor:
        cursor.execute(sql, params or [])
        return cursor.rowcount


def _users():
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    from clients.roles import STUDIO_MANAGER, TRAINER

    User = get_user_model()
    User.objects.bulk_create(
        [
            User(username=f"{PREFIX}-t{i}", first_name="Bench", last_name=f"T{i:02d}", is_staff=True)
            for i in range(TRAINERS)
        ]
        + [User(username=f"{PREFIX}-manager", first_name="Bench", last_name="Manager", is_staff=True)],
        ignore_conflicts=True,
    )
    trainers = list(User.objects.filter(username__startswith=f"{PREFIX}-t").order_by("pk"))
    manager = User.objects.get(username=f"{PREFIX}-manager")
    Group.objects.get(name=TRAINER).user_set.add(*trainers)
    Group.objects.get(name=STUDIO_MANAGER).user_set.add(manager)
    return trainers, manager


def grow(trainer_ids, *, clients, now):
    """Add rows until there are ``clients`` clients, 10x sessions, 3x payments, 10x messages."""
    have = _sql("SELECT 1 FROM clients_client WHERE trainer_id = ANY(%s)", [trainer_ids])
    first, last = have + 1, clients
    if last < first:
        return
    days = 3 * 365
    _sql(
        """
        INSERT INTO clients_client (created_at, updated_at, first_name, last_name, email, phone, birth_date,
            timezone, status, notes, email_reminders, email_marketing, sms_reminders, sms_marketing,
            email_suppressed_reason, portal_secret, trainer_id)
        SELECT %(now)s - ((g * 7) %% %(days)s) * interval '1 day',
            CASE WHEN g %% 12 = 0 THEN %(now)s - ((g * 3) %% 360) * interval '1 day'
                 ELSE %(now)s - ((g * 7) %% %(days)s) * interval '1 day' END,
            'Client', 'No' || g, 'dash' || g || '@example.com', '+4477' || lpad(g::text, 8, '0'),
            date '1960-01-01' + ((g * 7919) %% 16000),
            (ARRAY['', '', '', 'America/New_York', 'Australia/Sydney'])[1 + g %% 5],
            CASE WHEN g %% 12 = 0 THEN 'inactive' ELSE 'active' END, '', true, g %% 3 = 0, true, false, '',
            substr(md5(g::text), 1, 22), (%(trainers)s::int[])[1 + g %% %(n_trainers)s]
        FROM generate_series(%(first)s, %(last)s) g
        """,
        {
            "now": now,
            "days": days,
            "trainers": trainer_ids,
            "n_trainers": len(trainer_ids),
            "first": first,
            "last": last,
        },
    )
    ids = list(
        _model("clients.Client")
        .objects.filter(trainer_id__in=trainer_ids)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    params = {"now": now, "days": days, "clients": ids, "n": len(ids)}
    # Sessions on the hour or half hour, 06:00-21:30 UTC, over three years and the next 30 days.
    _sql(
        """
        INSERT INTO scheduling_session (created_at, updated_at, starts_at, duration_minutes, location, status,
            notes, cancelled_by, cancel_reason, cancelled_at, confirmed_at, sequence, client_id, trainer_id)
        SELECT x.ts - interval '14 days', x.ts - interval '14 days', x.ts, 60, 'Studio A',
            CASE WHEN x.g %% 20 = 0 THEN 'cancelled' WHEN x.ts >= %(now)s THEN 'scheduled'
                 WHEN x.g %% 17 = 0 THEN 'no_show' ELSE 'completed' END,
            '', CASE WHEN x.g %% 20 = 0 THEN 'client' ELSE '' END, '',
            CASE WHEN x.g %% 20 = 0 THEN x.ts - CASE WHEN x.g %% 40 = 0 THEN interval '2 hours'
                 ELSE interval '3 days' END END,
            CASE WHEN x.g %% 3 = 0 THEN x.ts - interval '1 day' END, 0, c.id, c.trainer_id
        FROM (
            SELECT g, date_trunc('day', %(now)s::timestamptz) - %(days)s * interval '1 day'
                + ((g * 7) %% (%(days)s + 30)) * interval '1 day'
                + (360 + ((g * 13) %% 32) * 30) * interval '1 minute' AS ts
            FROM generate_series(%(first)s, %(last)s) g
        ) x
        JOIN clients_client c ON c.id = (%(clients)s::bigint[])[1 + x.g %% %(n)s]
        """,
        params | {"first": 10 * (first - 1) + 1, "last": 10 * last},
    )
    # Paid in full (amount_paid = amount), a tenth overdue (one in three of those a third
    # paid), the rest pending; the receipts follow below.
    _sql(
        """
        INSERT INTO billing_payment (created_at, updated_at, amount, currency, due_date, status, paid_at,
            overdue_at, method, reference, amount_paid, description, client_id)
        SELECT x.due - interval '30 days', x.due - interval '30 days', x.amount, 'GBP', x.due,
            CASE WHEN x.due >= %(now)s::date THEN 'pending' WHEN x.g %% 10 = 0 THEN 'overdue' ELSE 'paid' END,
            CASE WHEN x.due < %(now)s::date AND x.g %% 10 <> 0 THEN x.due + interval '12 hours' END,
            CASE WHEN x.due < %(now)s::date AND x.g %% 10 = 0 THEN x.due + interval '1 day' END,
            '', '',
            CASE WHEN x.due >= %(now)s::date THEN 0 WHEN x.g %% 10 <> 0 THEN x.amount
                 WHEN x.g %% 30 = 0 THEN round(x.amount / 3, 2) ELSE 0 END,
            'Training package', (%(clients)s::bigint[])[1 + x.g %% %(n)s]
        FROM (SELECT g, 45.00 + (g %% 4) * 15 AS amount,
                  (%(now)s::date - %(days)s + ((g::bigint * 7919) %% (%(days)s + 60))::int)::timestamptz AS due
              FROM generate_series(%(first)s, %(last)s) g) x
        """,
        params | {"first": 3 * (first - 1) + 1, "last": 3 * last},
    )
    # Receipts for the money received on the new payments: one in three paid payments in two
    # halves five weeks apart (so in two months), the others and the part-paid overdue ones
    # in one. Numbered above the studio's series; they go with the bench data.
    _sql(
        """
        INSERT INTO billing_receipt (created_at, updated_at, payment_id, number, amount, paid_at, method,
            reference)
        SELECT r.paid_at, r.paid_at, r.payment_id,
            (SELECT GREATEST(COALESCE(MAX(number), 0),
                             COALESCE((SELECT last_number FROM billing_receiptsequence WHERE id = 1), 0))
             FROM billing_receipt) + row_number() OVER (ORDER BY r.paid_at, r.payment_id),
            r.amount, r.paid_at, 'card', ''
        FROM (
            SELECT p.id AS payment_id, parts.amount, parts.paid_at
            FROM billing_payment p
            CROSS JOIN LATERAL (
                SELECT round(p.amount / 2, 2) AS amount, p.paid_at - interval '35 days' AS paid_at
                WHERE p.status = 'paid' AND p.id %% 3 = 0
                UNION ALL
                SELECT p.amount - round(p.amount / 2, 2), p.paid_at
                WHERE p.status = 'paid' AND p.id %% 3 = 0
                UNION ALL
                SELECT p.amount_paid, COALESCE(p.paid_at, p.due_date + interval '12 hours')
                WHERE NOT (p.status = 'paid' AND p.id %% 3 = 0)
            ) parts
            WHERE p.client_id = ANY(%(clients)s) AND p.amount_paid > 0
              AND NOT EXISTS (SELECT 1 FROM billing_receipt e WHERE e.payment_id = p.id)
        ) r
        """,
        params,
    )
    _sql(
        """
        INSERT INTO messaging_message (created_at, updated_at, channel, category, direction, subject, body,
            status, error, provider_id, to_address, from_address, attachments, attempts, next_attempt_at,
            not_after, sent_at, delivered_at, read_at, client_id)
        SELECT x.ts, x.ts, (ARRAY['email', 'sms', 'in_app'])[1 + x.g %% 3], 'transactional',
            CASE WHEN x.g %% 10 = 0 THEN 'in' ELSE 'out' END, '', 'Message ' || x.g,
            CASE WHEN x.g %% 10 = 0 THEN 'received'
                 WHEN x.g %% 25 = 1 THEN 'failed' WHEN x.g %% 25 = 2 THEN 'suppressed'
                 WHEN x.g %% 12 = 3 THEN 'sent' ELSE 'delivered' END,
            CASE WHEN x.g %% 10 = 0 THEN ''
                 WHEN x.g %% 25 = 1 THEN (ARRAY['Twilio 21211: invalid phone number',
                     'rejected recipient', 'outcome unknown: the worker stopped mid-send'])[1 + x.g %% 3]
                 WHEN x.g %% 25 = 2 THEN (ARRAY['opted out of SMS (STOP)', 'no email address',
                     'quiet hours: it would arrive too late to matter'])[1 + x.g %% 3]
                 ELSE '' END,
            '', '', '', '[]'::jsonb, 1, NULL, NULL, x.ts, x.ts,
            CASE WHEN x.g %% 10 = 0 AND x.ts < %(now)s - interval '2 days' THEN x.ts + interval '1 hour' END,
            (%(clients)s::bigint[])[1 + x.g %% %(n)s]
        FROM (SELECT g, %(now)s::timestamptz - ((g * 7) %% (%(days)s * 24 * 60)) * interval '1 minute' AS ts
              FROM generate_series(%(first)s, %(last)s) g) x
        """,
        params | {"first": 10 * (first - 1) + 1, "last": 10 * last},
    )
    # A few held right now: retries waiting and SMS deferred by quiet hours.
    _sql(
        """
        INSERT INTO messaging_message (created_at, updated_at, channel, category, direction, subject, body,
            status, error, provider_id, to_address, from_address, attachments, attempts, next_attempt_at,
            client_id)
        SELECT %(now)s - interval '5 minutes', %(now)s, 'sms', 'transactional', 'out', '', 'Held ' || g, 'queued',
            CASE WHEN g %% 2 = 0 THEN 'Twilio 20429: too many requests' ELSE '' END, '', '', '', '[]'::jsonb,
            g %% 2, %(now)s + interval '3 hours', (%(clients)s::bigint[])[1 + g %% %(n)s]
        FROM generate_series(1, 20) g
        """,
        params,
    )
    # As autovacuum leaves a busy table: statistics fresh, the visibility map set.
    for table in (
        "clients_client",
        "scheduling_session",
        "billing_payment",
        "billing_receipt",
        "messaging_message",
    ):
        _sql(f"VACUUM ANALYZE {table}")


def _model(label):
    from django.apps import apps

    return apps.get_model(label)


def make_rules(*, created):
    from automation.models import AutomationRule, TriggerEvent

    E = TriggerEvent
    specs = [
        (E.SESSION_SCHEDULED, 24, "sms"),
        (E.SESSION_SCHEDULED, 2, "in_app"),
        (E.PAYMENT_DUE, 72, "email"),
        (E.PAYMENT_OVERDUE, 0, "email"),
        (E.PAYMENT_OVERDUE, 168, "sms"),
        (E.BIRTHDAY, 0, "in_app"),
    ]
    rules = AutomationRule.objects.bulk_create(
        AutomationRule(
            name=f"{PREFIX}: {event} {offset}h {channel}",
            trigger_event=event,
            offset_hours=offset,
            channel=channel,
            subject_template="From {{ studio_name }}",
            body_template="Hi {{ first_name }}",
            category="transactional",
        )
        for event, offset, channel in specs
    )
    AutomationRule.objects.filter(pk__in=[r.pk for r in rules]).update(created_at=created)


def cleanup(paused_rule_ids=()):
    from automation.models import AutomationLog, AutomationRule

    rules = list(AutomationRule.objects.filter(name__startswith=f"{PREFIX}:").values_list("pk", flat=True))
    trainers = list(
        _model("auth.User").objects.filter(username__startswith=f"{PREFIX}-").values_list("pk", flat=True)
    )
    if trainers:
        _sql(
            "DELETE FROM messaging_message WHERE client_id IN "
            "(SELECT id FROM clients_client WHERE trainer_id = ANY(%s))",
            [trainers],
        )
        _sql("DELETE FROM automation_automationlog WHERE rule_id = ANY(%s)", [rules])
        _sql(
            "DELETE FROM billing_receipt WHERE payment_id IN (SELECT p.id FROM billing_payment p "
            "JOIN clients_client c ON c.id = p.client_id WHERE c.trainer_id = ANY(%s))",
            [trainers],
        )
        for table in ("billing_payment", "scheduling_session"):
            _sql(
                f"DELETE FROM {table} WHERE client_id IN (SELECT id FROM clients_client WHERE trainer_id = ANY(%s))",
                [trainers],
            )
        _sql("DELETE FROM scheduling_session WHERE trainer_id = ANY(%s)", [trainers])
        _sql("DELETE FROM clients_client WHERE trainer_id = ANY(%s)", [trainers])
    AutomationLog.objects.filter(rule_id__in=rules).delete()
    AutomationRule.objects.filter(pk__in=rules).delete()
    _model("auth.User").objects.filter(pk__in=trainers).delete()
    AutomationRule.objects.filter(pk__in=paused_rule_ids).update(is_active=True)


def _busiest(trainers, now):
    """The trainer with the most sessions today and tomorrow (the page's first panel)."""
    from django.db.models import Count

    counts = dict(
        _model("scheduling.Session")
        .objects.filter(
            trainer__in=trainers,
            starts_at__gte=now - timedelta(hours=12),
            starts_at__lt=now + timedelta(days=2),
        )
        .values_list("trainer_id")
        .annotate(n=Count("pk"))
    )
    return max(trainers, key=lambda t: counts.get(t.pk, 0))


def measure(user, *, query="", repeat):
    from django.test import Client

    client = Client()
    client.force_login(user)
    url = "/admin/" + (f"?{query}" if query else "")
    response = client.get(url)  # warm-up
    assert response.status_code == 200, response.status_code
    times = []
    for _ in range(repeat):
        with CaptureQueriesContext(connection) as queries:
            start = time.perf_counter()
            response = client.get(url)
            times.append((time.perf_counter() - start) * 1000)
    page = response.content.decode()
    return {
        "fastest_ms": round(min(times), 1),
        "median_ms": round(statistics.median(times), 1),
        "queries": len(queries),
        "sessions_listed": page.count('<tr class="session '),
        "coming_up_listed": page.count('<tr class="upcoming">'),
    }


def run(argv):
    parser = argparse.ArgumentParser(prog="python -m bench dashboard")
    parser.add_argument(
        "--scale", type=float, default=1.0, help="1.0 = 100k clients, 1M sessions and messages"
    )
    parser.add_argument("--small", type=float, default=0.1, help="the first size, as a share of --scale")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--keep", action="store_true", help="leave the data in place (to look at it)")
    args = parser.parse_args(argv)
    _require_postgres()
    from django.conf import settings

    settings.DEBUG = False
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    logging.getLogger("django-q").setLevel(logging.WARNING)

    from automation.models import AutomationRule, ScanState
    from messaging.heartbeat import record_heartbeat

    now = datetime.now(UTC)
    cleanup()
    paused = list(AutomationRule.objects.filter(is_active=True).values_list("pk", flat=True))
    AutomationRule.objects.filter(pk__in=paused).update(is_active=False)
    results = {"scale": args.scale, "sizes": {}}
    try:
        trainers, manager = _users()
        trainer_ids = [t.pk for t in trainers]
        make_rules(created=now - timedelta(days=400))
        ScanState.objects.update_or_create(
            name="time-triggers", defaults={"scanned_until": now - timedelta(minutes=2)}
        )
        record_heartbeat(now=now)
        for share in (args.small, 1.0):
            n_clients = int(100_000 * args.scale * share)
            start = time.perf_counter()
            grow(trainer_ids, clients=n_clients, now=now)
            built = round(time.perf_counter() - start, 1)
            size = f"{n_clients} clients"
            results["sizes"][size] = {
                "rows": {
                    "clients": n_clients,
                    "sessions": 10 * n_clients,
                    "payments": 3 * n_clients,
                    "receipts": _sql(
                        "SELECT 1 FROM billing_receipt r JOIN billing_payment p ON p.id = r.payment_id "
                        "JOIN clients_client c ON c.id = p.client_id WHERE c.trainer_id = ANY(%s)",
                        [trainer_ids],
                    ),
                    "messages": 10 * n_clients + 20,
                },
                "built_in_s": built,
                "trainer": measure(_busiest(trainers, now), repeat=args.repeat),
                "manager (studio)": measure(manager, repeat=args.repeat),
                "manager (one trainer)": measure(
                    manager, query=f"trainer={trainers[1].pk}", repeat=args.repeat
                ),
            }
            print(size, results["sizes"][size], flush=True)
        small, big = list(results["sizes"].values())
        results["ratio (full / small), fastest"] = {
            view: round(big[view]["fastest_ms"] / small[view]["fastest_ms"], 2)
            for view in ("trainer", "manager (studio)", "manager (one trainer)")
        }
        results["targets"] = (
            "<= 300 ms and <= 20 queries at 100k clients / 1M sessions / 300k payments / 1M messages"
        )
    finally:
        if not args.keep:
            cleanup(paused)
    return results
