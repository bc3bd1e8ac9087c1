"""The automation scan and the booking path at studio-chain scale, on PostgreSQL.

    DATABASE_URL=postgres://... python -m bench automation            # 100k clients, 1M sessions, 300k payments
    DATABASE_URL=postgres://... python -m bench automation --scale 0.01   # a quick check

Data is generated in the database (``INSERT ... SELECT generate_series``) for bench
trainers only, and removed afterwards; other active rules are paused while it runs.
Sessions start on the hour or half hour between 06:00 and 21:30 over two years,
payments fall due over two years (the past ones paid or overdue), birthdays over
the year. Twenty active rules cover every event with several offsets.

Measured (fastest and median of ``--repeat`` runs after a warm-up, each scan over a
five-minute window; ratios use the fastest, the least disturbed on a shared machine):

1. the scan when nothing is due: time and queries (target <= 20 queries);
2. the scan with 1,000 reminders due, at 100k sessions and at 1M sessions, and the
   ratio of the two (target <= 1.3): the cost follows what is due, not table size;
   at 1M sessions it fires in bulk (targets <= 50 queries, <= 0.5 s);
3. peak Python memory of the scan (tracemalloc), nothing due and 1,000 due;
4. a window with 09:00 local time in it (birthdays) for reference;
5. booking 1,000 sessions through ``session_book`` with 10 active rules vs none
   (target ratio <= 1.2): a save only enqueues, whatever the rules.
"""

import argparse
import contextlib
import logging
import os
import statistics
import time
import tracemalloc
from datetime import UTC, datetime, timedelta

from django.db import connection
from django.test.utils import CaptureQueriesContext

PREFIX = "bench-auto"
TRAINERS = 50


def _require_postgres():
    """PostgreSQL, migrated to the code's schema (a bench database lives across releases)."""
    if connection.vendor != "postgresql" or not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        raise SystemExit("bench automation needs PostgreSQL: set DATABASE_URL=postgres://...")
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def _sql(sql, params=None):
    with connection.cursor() as cursor:
        cursor.execute(sql, params or [])
        return cursor.rowcount


# --- Data ---------------------------------------------------------------------------------------


def _trainer_ids():
    from django.contrib.auth import get_user_model

    User = get_user_model()
    users = [
        User(username=f"{PREFIX}-t{i}", first_name="Bench", last_name=f"T{i}", is_staff=True)
        for i in range(TRAINERS)
    ]
    User.objects.bulk_create(users, ignore_conflicts=True)
    return list(
        User.objects.filter(username__startswith=f"{PREFIX}-t").order_by("pk").values_list("pk", flat=True)
    )


def _client_ids(trainers):
    return list(
        _model("clients.Client")
        .objects.filter(trainer_id__in=trainers)
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def _model(label):
    from django.apps import apps

    return apps.get_model(label)


def make_clients(trainers, n, *, created):
    return _sql(
        """
        INSERT INTO clients_client (created_at, updated_at, first_name, last_name, email, phone, birth_date,
            timezone, status, notes, email_reminders, email_marketing, sms_reminders, sms_marketing,
            email_suppressed_reason, portal_secret, trainer_id)
        SELECT %s, %s, 'Client', 'No' || g, 'bench' || g || '@example.com', '+4477' || lpad(g::text, 8, '0'),
            date '1960-01-01' + ((g * 7919) %% 16000),
            (ARRAY['', '', '', 'America/New_York', 'Australia/Sydney'])[1 + g %% 5],
            'active', '', true, g %% 3 = 0, true, g %% 4 = 0, '', substr(md5(g::text), 1, 22),
            (%s::int[])[1 + g %% %s]
        FROM generate_series(1, %s) g
        """,
        [created, created, trainers, len(trainers), n],
    )


def make_sessions(clients, first, last, *, today):
    """Sessions ``first..last`` of the generated chain, spread over two years around ``today``."""
    return _sql(
        """
        INSERT INTO scheduling_session (created_at, updated_at, starts_at, duration_minutes, location, status,
            notes, cancelled_by, cancel_reason, sequence, client_id, trainer_id)
        SELECT x.ts - interval '14 days', x.ts - interval '14 days', x.ts, 60, 'Studio A',
            CASE WHEN x.ts < %s THEN 'completed' WHEN x.g %% 20 = 0 THEN 'cancelled' ELSE 'scheduled' END,
            '', '', '', 0, c.id, c.trainer_id
        FROM (
            SELECT g, %s::timestamptz - interval '365 days'
                + ((g * 7) %% 730) * interval '1 day'
                + (360 + ((g * 13) %% 32) * 30) * interval '1 minute' AS ts
            FROM generate_series(%s, %s) g
        ) x
        JOIN clients_client c ON c.id = (%s::bigint[])[1 + x.g %% %s]
        """,
        [today, today, first, last, clients, len(clients)],
    )


def make_payments(clients, n, *, today):
    return _sql(
        """
        INSERT INTO billing_payment (created_at, updated_at, amount, currency, due_date, status, paid_at,
            overdue_at, method, reference, description, client_id)
        SELECT x.due - interval '30 days', x.due - interval '30 days', 45.00, 'GBP', x.due,
            CASE WHEN x.due >= %s::date THEN 'pending' WHEN x.g %% 5 = 0 THEN 'overdue' ELSE 'paid' END,
            CASE WHEN x.due < %s::date AND x.g %% 5 <> 0 THEN x.due + interval '12 hours' END,
            CASE WHEN x.due < %s::date AND x.g %% 5 = 0 THEN x.due + interval '1 day' END,
            '', '', 'Training package', (%s::bigint[])[1 + x.g %% %s]
        FROM (SELECT g, (%s::date - 365 + ((g * 11) %% 730))::timestamptz AS due FROM generate_series(1, %s) g) x
        """,
        [today, today, today, clients, len(clients), today, n],
    )


def make_due_sessions(clients, n, *, due_at, offset_hours):
    """``n`` sessions whose reminder falls due in the five minutes before ``due_at``."""
    starts = due_at + timedelta(hours=offset_hours)
    return _sql(
        """
        INSERT INTO scheduling_session (created_at, updated_at, starts_at, duration_minutes, location, status,
            notes, cancelled_by, cancel_reason, sequence, client_id, trainer_id)
        SELECT %s, %s, %s::timestamptz - (g %% 240) * interval '1 second', 60, 'Studio B', 'scheduled', '', '',
            '', 0, c.id, c.trainer_id
        FROM generate_series(1, %s) g JOIN clients_client c ON c.id = (%s::bigint[])[g]
        """,
        [due_at - timedelta(days=7), due_at - timedelta(days=7), starts, n, clients[:n]],
    )


def make_rules(trainers, *, created):
    from automation.models import AutomationRule, TriggerEvent

    E = TriggerEvent
    specs = [
        (E.SESSION_SCHEDULED, 24, "sms", None),
        (E.SESSION_SCHEDULED, 2, "in_app", None),
        (E.SESSION_SCHEDULED, 6, "email", None),
        (E.SESSION_SCHEDULED, 12, "sms", trainers[0]),
        (E.SESSION_SCHEDULED, 48, "email", None),
        (E.SESSION_SCHEDULED, 72, "email", trainers[1]),
        (E.SESSION_CREATED, 0, "email", None),
        (E.SESSION_CREATED, 0, "in_app", None),
        (E.SESSION_CREATED, 0, "sms", trainers[2]),
        (E.SESSION_CANCELLED, 0, "email", None),
        (E.SESSION_CANCELLED, 0, "sms", None),
        (E.PAYMENT_DUE, 0, "email", None),
        (E.PAYMENT_DUE, 24, "email", None),
        (E.PAYMENT_DUE, 72, "sms", None),
        (E.PAYMENT_OVERDUE, 0, "email", None),
        (E.PAYMENT_OVERDUE, 24, "sms", None),
        (E.PAYMENT_OVERDUE, 168, "email", None),
        (E.PAYMENT_OVERDUE, 336, "email", None),
        (E.BIRTHDAY, 0, "email", None),
        (E.BIRTHDAY, 0, "sms", None),
    ]
    body = "Hi {{ first_name }}, {{ studio_name }}"
    rules = AutomationRule.objects.bulk_create(
        AutomationRule(
            name=f"{PREFIX}: {event} {offset}h {channel}",
            trigger_event=event,
            offset_hours=offset,
            channel=channel,
            trainer_id=trainer,
            subject_template="From {{ studio_name }}",
            body_template=body,
        )
        for event, offset, channel, trainer in specs
    )
    AutomationRule.objects.filter(pk__in=[r.pk for r in rules]).update(created_at=created)
    return rules


def cleanup(paused_rule_ids=()):
    from automation.models import AutomationLog, AutomationRule, ScanState

    rules = list(AutomationRule.objects.filter(name__startswith=f"{PREFIX}:").values_list("pk", flat=True))
    trainers = list(
        _model("auth.User").objects.filter(username__startswith=f"{PREFIX}-").values_list("pk", flat=True)
    )
    AutomationLog.objects.filter(rule_id__in=rules).delete()
    _sql(
        "DELETE FROM messaging_message WHERE rule_id = ANY(%s) OR client_id IN "
        "(SELECT id FROM clients_client WHERE trainer_id = ANY(%s))",
        [rules, trainers],
    )
    _sql(
        "DELETE FROM billing_payment WHERE client_id IN (SELECT id FROM clients_client WHERE trainer_id = ANY(%s))",
        [trainers],
    )
    _sql("DELETE FROM scheduling_session WHERE trainer_id = ANY(%s)", [trainers])
    _sql("DELETE FROM clients_client WHERE trainer_id = ANY(%s)", [trainers])
    AutomationRule.objects.filter(pk__in=rules).delete()
    _model("auth.User").objects.filter(pk__in=trainers).delete()
    AutomationRule.objects.filter(pk__in=paused_rule_ids).update(is_active=True)
    ScanState.objects.all().delete()
    _model("django_q.OrmQ").objects.all().delete()


def _analyze():
    # VACUUM too: otherwise autovacuum wakes up over the fresh rows in the middle of a measurement.
    for table in ("clients_client", "scheduling_session", "billing_payment", "automation_automationlog"):
        _sql(f"VACUUM ANALYZE {table}")


# --- Measurements ------------------------------------------------------------------------------


def _reset(rules, *, now):
    from automation.models import AutomationLog, ScanState

    AutomationLog.objects.filter(rule__in=rules).delete()
    _sql("DELETE FROM messaging_message WHERE rule_id = ANY(%s)", [[r.pk for r in rules]])
    _model("django_q.OrmQ").objects.all().delete()
    ScanState.objects.all().delete()
    ScanState.objects.create(name="time-triggers", scanned_until=now - timedelta(minutes=5))


def measure_scan(rules, *, now, repeat):
    """Median wall time, the queries of one run, what it fired, and the peak memory."""
    from automation.scan import scan

    _reset(rules, now=now)
    scan(now=now)  # warm-up: caches and buffers, not timed
    times, cpu = [], []
    for _ in range(repeat):
        _reset(rules, now=now)
        started, cpu_started = time.perf_counter(), time.process_time()
        result = scan(now=now)
        times.append(time.perf_counter() - started)
        cpu.append(time.process_time() - cpu_started)
    _reset(rules, now=now)
    connection.queries_log.clear()
    with CaptureQueriesContext(connection) as queries:
        result = scan(now=now)
    _reset(rules, now=now)
    tracemalloc.start()
    scan(now=now)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    _reset(rules, now=now)
    return {
        "seconds_min": round(min(times), 4),
        "seconds_median": round(statistics.median(times), 4),
        "seconds_all": [round(t, 4) for t in times],
        # This process's CPU time (the Python side, without waiting for PostgreSQL or
        # for the neighbours of a shared machine).
        "cpu_seconds_median": round(statistics.median(cpu), 4),
        "queries": len(queries),
        "sent": result.fired.total("sent"),
        "skipped": result.fired.total("skipped"),
        "failed": result.fired.total("failed"),
        "turned_overdue": result.turned_overdue,
        "peak_memory_kib": round(peak / 1024),
        "errors": result.errors,
    }


@contextlib.contextmanager
def _without_automation_receivers():
    from django.db.models.signals import post_save

    from automation import signals

    post_save.disconnect(dispatch_uid="automation.session_saved", sender=_model("scheduling.Session"))
    try:
        yield
    finally:
        signals.connect()


def measure_booking(rules, clients, *, active, start, n):
    """Book ``n`` sessions through the service, each in its own transaction; enqueue included."""
    from automation.models import AutomationRule
    from scheduling.services import session_book

    AutomationRule.objects.filter(pk__in=[r.pk for r in rules]).update(is_active=False)
    AutomationRule.objects.filter(pk__in=[r.pk for r in active]).update(is_active=True)
    customers = list(
        _model("clients.Client").objects.filter(pk__in=clients[:n]).select_related("trainer").order_by("pk")
    )
    started = time.perf_counter()
    booked = []
    for i, customer in enumerate(customers):
        booked.append(
            session_book(
                trainer=customer.trainer,
                client=customer,
                starts_at=start + timedelta(hours=2 * (i // TRAINERS)),
            ).pk
        )
    seconds = time.perf_counter() - started
    queued = _model("django_q.OrmQ").objects.count()
    _sql("DELETE FROM scheduling_session WHERE id = ANY(%s)", [booked])
    _model("django_q.OrmQ").objects.all().delete()
    AutomationRule.objects.filter(pk__in=[r.pk for r in rules]).update(is_active=True)
    return seconds, queued


def run(argv):
    parser = argparse.ArgumentParser(prog="python -m bench automation")
    parser.add_argument(
        "--scale", type=float, default=1.0, help="1.0 = 100k clients, 1M sessions, 300k payments"
    )
    parser.add_argument("--due", type=int, default=1000, help="reminders due in the busy scan")
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--bookings", type=int, default=1000)
    args = parser.parse_args(argv)
    _require_postgres()
    from django.conf import settings

    # As in production: no per-query logging (it would cost time and show up as memory).
    settings.DEBUG = False
    logging.getLogger("django-q").setLevel(logging.WARNING)

    from automation.models import AutomationRule

    n_clients = int(100_000 * args.scale)
    n_sessions = int(1_000_000 * args.scale)
    n_payments = int(300_000 * args.scale)
    # Scans run at 10:07 UTC tomorrow: reminders with whole-hour offsets for sessions on the
    # hour or half hour are due at :00 or :30, so the five minutes before are quiet.
    midnight = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
    busy = midnight + timedelta(hours=10, minutes=7)
    quiet = busy - timedelta(hours=1)
    birthday_window = midnight + timedelta(hours=9, minutes=2)  # 09:00 in London (the studio) and UTC+0

    cleanup()
    paused = list(AutomationRule.objects.filter(is_active=True).values_list("pk", flat=True))
    AutomationRule.objects.filter(pk__in=paused).update(is_active=False)
    out = {
        "scale": {"clients": n_clients, "sessions": n_sessions, "payments": n_payments, "due": args.due},
        "database": connection.settings_dict["NAME"],
    }
    try:
        t0 = time.perf_counter()
        trainers = _trainer_ids()
        make_clients(trainers, n_clients, created=midnight - timedelta(days=400))
        clients = _client_ids(trainers)
        make_payments(clients, n_payments, today=busy.date())
        rules = make_rules(trainers, created=midnight - timedelta(days=30))
        make_due_sessions(clients, args.due, due_at=busy, offset_hours=24)
        tenth = n_sessions // 10
        make_sessions(clients, 1, tenth, today=midnight)
        _analyze()
        out["generate_seconds_small"] = round(time.perf_counter() - t0, 1)

        small = {
            "nothing_due": measure_scan(rules, now=quiet, repeat=args.repeat),
            "due": measure_scan(rules, now=busy, repeat=args.repeat),
        }
        t0 = time.perf_counter()
        make_sessions(clients, tenth + 1, n_sessions, today=midnight)
        _analyze()
        out["generate_seconds_rest"] = round(time.perf_counter() - t0, 1)
        large = {
            "nothing_due": measure_scan(rules, now=quiet, repeat=args.repeat),
            "due": measure_scan(rules, now=busy, repeat=args.repeat),
            "birthday_window": measure_scan(rules, now=birthday_window, repeat=args.repeat),
        }
        out["scan_at_sessions"] = {f"{tenth + args.due}": small, f"{n_sessions + args.due}": large}
        out["ratio_due_scan_large_vs_small"] = round(
            large["due"]["seconds_median"] / small["due"]["seconds_median"], 3
        )
        out["ratio_nothing_due_large_vs_small"] = round(
            large["nothing_due"]["seconds_median"] / small["nothing_due"]["seconds_median"], 3
        )

        session_rules = [r for r in rules if r.trigger_event.startswith("session_")]
        ten = (session_rules + [r for r in rules if r not in session_rules])[:10]
        start = midnight + timedelta(days=800)
        measure_booking(rules, clients, active=[], start=start, n=min(args.bookings, 100))  # warm-up
        none_s, ten_s, bare_s = [], [], []
        for _ in range(3):  # alternate, to even out caches, autovacuum and the neighbours
            seconds, queued_none = measure_booking(rules, clients, active=[], start=start, n=args.bookings)
            none_s.append(seconds)
            seconds, queued_ten = measure_booking(rules, clients, active=ten, start=start, n=args.bookings)
            ten_s.append(seconds)
            with _without_automation_receivers():
                seconds, _ = measure_booking(rules, clients, active=ten, start=start, n=args.bookings)
            bare_s.append(seconds)
        out["booking"] = {
            "sessions": args.bookings,
            "seconds_no_active_rules": round(min(none_s), 3),
            "seconds_10_active_rules": round(min(ten_s), 3),
            "ratio": round(min(ten_s) / min(none_s), 3),
            "seconds_all": {"none": none_s, "ten": ten_s, "receivers_disconnected": bare_s},
            # What the after-commit enqueue itself costs, against booking with automation unplugged.
            "seconds_receivers_disconnected": round(min(bare_s), 3),
            "ratio_10_rules_vs_receivers_disconnected": round(min(ten_s) / min(bare_s), 3),
            "tasks_queued_each_run": [queued_none, queued_ten],
        }
        out["targets"] = {
            "nothing_due_queries<=20": large["nothing_due"]["queries"] <= 20,
            "due_queries<=50": large["due"]["queries"] <= 50,
            "due_seconds<=0.5": large["due"]["seconds_median"] <= 0.5,
            "due_scan_ratio<=1.3": out["ratio_due_scan_large_vs_small"] <= 1.3,
            "booking_ratio<=1.2": out["booking"]["ratio"] <= 1.2,
        }
    finally:
        cleanup(paused)
    return out
