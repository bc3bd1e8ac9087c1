"""The staff calendar's events endpoint and a trainer's iCalendar feed, on PostgreSQL.

    DATABASE_URL=postgres://... python -m bench calendar               # 100k clients, 1M sessions
    DATABASE_URL=postgres://... python -m bench calendar --scale 0.1   # 10k clients, 100k sessions

Data is generated in the database (``INSERT ... SELECT generate_series``, the automation
bench's generators) for bench trainers only, and removed afterwards: 50 trainers, their
clients and sessions on the hour or half hour over two years around today (a 7-day
window holds about ``sessions / 104 / 50`` sessions per trainer, ~190 at full scale),
plus one trainer with 5,000 sessions between 30 days back and a year ahead (the feed's
range).

Measured through the real URLs with Django's test client (middleware, login session,
per-user zone, JSON or iCalendar rendering; no network), fastest and median of
``--repeat`` runs after a warm-up:

1. ``GET /calendar/events/?start=…&end=…`` for one trainer's 7-day window, as that
   trainer (target ≤ 50 ms, ≤ 5 queries), and as a manager showing three trainers;
2. ``GET /calendar/feed/<token>.ics`` for the trainer with 5,000 sessions in range
   (target ≤ 300 ms).
"""

import argparse
import statistics
import time
from datetime import UTC, datetime, timedelta

from django.db import connection
from django.test.utils import CaptureQueriesContext

from bench.automation import _client_ids, _require_postgres, _sql, make_clients, make_sessions

PREFIX = "bench-cal"
TRAINERS = 50
FEED_SESSIONS = 5000


def _users():
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    from clients.roles import STUDIO_MANAGER, TRAINER

    User = get_user_model()
    trainers = []
    for i in range(TRAINERS + 1):
        user = User.objects.create(
            username=f"{PREFIX}-t{i}", first_name="Bench", last_name=f"T{i}", is_staff=True
        )
        trainers.append(user)
    Group.objects.get(name=TRAINER).user_set.add(*trainers)
    manager = User.objects.create(
        username=f"{PREFIX}-manager", first_name="Bench", last_name="Manager", is_staff=True
    )
    Group.objects.get(name=STUDIO_MANAGER).user_set.add(manager)
    return trainers[:TRAINERS], trainers[TRAINERS], manager


def make_feed_sessions(trainer, clients, *, now):
    """FEED_SESSIONS sessions for one trainer, every ~2 hours from 29 days back (395 days)."""
    return _sql(
        """
        INSERT INTO scheduling_session (created_at, updated_at, starts_at, duration_minutes, location, status,
            notes, cancelled_by, cancel_reason, sequence, client_id, trainer_id)
        SELECT %s, %s, %s::timestamptz - interval '29 days' + g * interval '113 minutes', 60, 'Studio C',
            CASE WHEN g %% 25 = 0 THEN 'cancelled' ELSE 'scheduled' END, '', '', '', g %% 3,
            (%s::bigint[])[1 + g %% %s], %s
        FROM generate_series(0, %s) g
        """,
        [now, now, now, clients, len(clients), trainer.pk, FEED_SESSIONS - 1],
    )


def cleanup():
    from django.contrib.auth import get_user_model

    users = list(
        get_user_model().objects.filter(username__startswith=f"{PREFIX}-").values_list("pk", flat=True)
    )
    _sql(
        "DELETE FROM messaging_message WHERE client_id IN (SELECT id FROM clients_client WHERE trainer_id = ANY(%s))",
        [users],
    )
    _sql("DELETE FROM scheduling_session WHERE trainer_id = ANY(%s)", [users])
    _sql("DELETE FROM clients_client WHERE trainer_id = ANY(%s)", [users])
    _sql("DELETE FROM scheduling_calendarfeed WHERE trainer_id = ANY(%s)", [users])
    get_user_model().objects.filter(pk__in=users).delete()


def _analyze():
    for table in ("clients_client", "scheduling_session"):
        _sql(f"VACUUM ANALYZE {table}")


def measure(client, url, *, repeat, params=None):
    response = client.get(url, params)  # warm-up
    assert response.status_code == 200, response.content[:300]
    seconds = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        response = client.get(url, params)
        seconds.append(time.perf_counter() - t0)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url, params)
    return {
        "ms_fastest": round(min(seconds) * 1000, 1),
        "ms_median": round(statistics.median(seconds) * 1000, 1),
        "queries": len(queries),
        "bytes": len(response.content),
    }, response


def run(argv):
    parser = argparse.ArgumentParser(prog="python -m bench calendar")
    parser.add_argument("--scale", type=float, default=1.0, help="1.0 = 100k clients, 1M sessions")
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args(argv)
    _require_postgres()
    from django.conf import settings
    from django.test import Client

    from scheduling.calendar.services import feed_for, feed_token

    settings.DEBUG = False
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    n_clients = int(100_000 * args.scale)
    n_sessions = int(1_000_000 * args.scale)
    now = datetime.now(UTC).replace(microsecond=0)
    monday = (now - timedelta(days=now.weekday())).replace(hour=0, minute=0, second=0) + timedelta(weeks=1)
    out = {
        "scale": {"clients": n_clients, "sessions": n_sessions + FEED_SESSIONS},
        "database": connection.settings_dict["NAME"],
    }

    cleanup()
    try:
        t0 = time.perf_counter()
        trainers, feed_trainer, manager = _users()
        trainer_ids = [t.pk for t in trainers]
        make_clients(trainer_ids, n_clients, created=now - timedelta(days=400))
        clients = _client_ids(trainer_ids)
        make_sessions(clients, 1, n_sessions, today=now)
        feed_clients = clients[: max(1, len(clients) // TRAINERS)]
        _sql("UPDATE clients_client SET trainer_id = %s WHERE id = ANY(%s)", [feed_trainer.pk, feed_clients])
        make_feed_sessions(feed_trainer, feed_clients, now=now)
        _analyze()
        out["generate_seconds"] = round(time.perf_counter() - t0, 1)

        week = {
            "start": monday.replace(tzinfo=None).isoformat(),
            "end": (monday + timedelta(days=7)).replace(tzinfo=None).isoformat(),
        }
        as_trainer = Client()
        as_trainer.force_login(trainers[0])
        events, response = measure(as_trainer, "/calendar/events/", repeat=args.repeat, params=week)
        events["events"] = len(response.json())
        as_manager = Client()
        as_manager.force_login(manager)
        three = {**week, "trainer": trainer_ids[:3]}
        managed, response = measure(as_manager, "/calendar/events/", repeat=args.repeat, params=three)
        managed["events"] = len(response.json())

        url = f"/calendar/feed/{feed_token(feed_for(feed_trainer))}.ics"
        feed, response = measure(Client(), url, repeat=max(5, args.repeat // 2))
        feed["events"] = response.content.count(b"BEGIN:VEVENT")

        out["events_7_days_one_trainer"] = events
        out["events_7_days_manager_three_trainers"] = managed
        out["ics_feed"] = feed
        out["targets"] = {
            "events_ms<=50": events["ms_median"] <= 50,
            "events_queries<=5": events["queries"] <= 5,
            "feed_ms<=300": feed["ms_median"] <= 300,
        }
    finally:
        cleanup()
    return out
