"""Four weeks of one trainer's free slots, on PostgreSQL, with the session table full.

    DATABASE_URL=postgres://... python -m bench booking               # 100k clients, 1M sessions
    DATABASE_URL=postgres://... python -m bench booking --scale 0.1   # 10k clients, 100k sessions

Data as in the calendar bench (the automation bench's generators): 50 bench trainers, their
clients and sessions on the hour or half hour over two years around today (about
``sessions / 730 / 50 * 28`` in one trainer's four weeks, ~770 at full scale). Each trainer
works Monday to Saturday 07:00–13:00 and 14:00–20:00 on her own clock, with 10-minute
buffers, a day off in the window and a 30-minute step.

Measured: ``scheduling.availability.free_slots`` for one trainer, 60-minute sessions, the
four weeks from tomorrow (target ≤ 30 ms and ≤ 3 queries), fastest and median of
``--repeat`` runs after a warm-up; CPU time beside wall time (the machine may be shared).
"""

import argparse
import statistics
import time
from datetime import UTC, datetime, timedelta
from datetime import time as clock

from django.db import connection
from django.test.utils import CaptureQueriesContext

from bench.automation import _client_ids, _require_postgres, _sql, make_clients, make_sessions

PREFIX = "bench-book"
TRAINERS = 50


def _trainers():
    from django.contrib.auth import get_user_model

    from scheduling.models import Availability, DateOverride, WorkingHours

    User = get_user_model()
    trainers = [
        User.objects.create(username=f"{PREFIX}-t{i}", first_name="Bench", last_name=f"T{i}", is_staff=True)
        for i in range(TRAINERS)
    ]
    tomorrow = datetime.now(UTC).date() + timedelta(days=1)
    for trainer in trainers:
        availability = Availability.objects.create(
            trainer=trainer,
            buffer_before_minutes=10,
            buffer_after_minutes=10,
            minimum_notice_hours=12,
            horizon_days=56,
            max_sessions_per_day=12,
            slot_interval_minutes=30,
        )
        WorkingHours.objects.bulk_create(
            WorkingHours(availability=availability, weekday=day, start_time=clock(start), end_time=clock(end))
            for day in range(6)
            for start, end in ((7, 13), (14, 20))
        )
        DateOverride.objects.create(availability=availability, date=tomorrow + timedelta(days=9))
    return trainers


def _count(sql, params=None) -> int:
    with connection.cursor() as cursor:
        cursor.execute(sql, params or [])
        return cursor.fetchone()[0]


def cleanup():
    from django.contrib.auth import get_user_model

    users = list(
        get_user_model().objects.filter(username__startswith=f"{PREFIX}-").values_list("pk", flat=True)
    )
    _sql("DELETE FROM scheduling_session WHERE trainer_id = ANY(%s)", [users])
    _sql("DELETE FROM clients_client WHERE trainer_id = ANY(%s)", [users])
    get_user_model().objects.filter(pk__in=users).delete()  # availability rows cascade


def run(argv):
    parser = argparse.ArgumentParser(prog="python -m bench booking")
    parser.add_argument("--scale", type=float, default=1.0, help="1.0 = 100k clients, 1M sessions")
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args(argv)
    _require_postgres()
    from django.contrib.auth import get_user_model

    from scheduling.availability import free_slots

    n_clients = int(100_000 * args.scale)
    n_sessions = int(1_000_000 * args.scale)
    now = datetime.now(UTC).replace(microsecond=0)
    out = {
        "scale": {"clients": n_clients, "sessions": n_sessions},
        "database": connection.settings_dict["NAME"],
    }

    cleanup()
    try:
        t0 = time.perf_counter()
        trainers = _trainers()
        trainer_ids = [t.pk for t in trainers]
        make_clients(trainer_ids, n_clients, created=now - timedelta(days=400))
        make_sessions(_client_ids(trainer_ids), 1, n_sessions, today=now)
        _sql("VACUUM ANALYZE scheduling_session")
        out["generate_seconds"] = round(time.perf_counter() - t0, 1)
        out["sessions_in_table"] = _count("SELECT count(*) FROM scheduling_session")

        # As the portal has it: the client's trainer, loaded with the client.
        trainer = get_user_model().objects.get(pk=trainers[0].pk)
        window = {"start": now + timedelta(days=1), "end": now + timedelta(days=29)}
        out["trainer_sessions_in_window"] = _count(
            "SELECT count(*) FROM scheduling_session WHERE trainer_id = %s AND status = 'scheduled' "
            "AND starts_at >= %s AND starts_at < %s",
            [trainer.pk, window["start"], window["end"]],
        )

        def once():
            return free_slots(trainer=trainer, duration_minutes=60, now=now, **window)

        slots = once()  # warm-up
        wall, cpu = [], []
        for _ in range(args.repeat):
            w0, c0 = time.perf_counter(), time.process_time()
            once()
            wall.append(time.perf_counter() - w0)
            cpu.append(time.process_time() - c0)
        with CaptureQueriesContext(connection) as queries:
            once()
        out["free_slots_4_weeks"] = {
            "slots": len(slots),
            "ms_fastest": round(min(wall) * 1000, 1),
            "ms_median": round(statistics.median(wall) * 1000, 1),
            "cpu_ms_median": round(statistics.median(cpu) * 1000, 1),
            "queries": len(queries),
        }
        out["targets"] = {
            "ms<=30": out["free_slots_4_weeks"]["ms_median"] <= 30,
            "queries<=3": len(queries) <= 3,
        }
    finally:
        cleanup()
    return out
