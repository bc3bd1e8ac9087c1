"""Database connections under gunicorn: new per request, persistent, or psycopg's pool.

    DATABASE_URL=postgres://... python -m bench web [--requests 600] [--concurrency 8] [--rounds 3]

gunicorn runs with deploy/gunicorn.conf.py (sync workers, 2 x cores + 1), DEBUG=false and
collected static files, on 127.0.0.1; a thread pool sends a bounded number of requests.
Each round tries every option once, in turn (so a busy moment on a shared machine hits
them all alike); reported per option and page: requests/s and latency p50/p95 (median
over rounds), and the connections PostgreSQL holds for the server after the round.

Also measured directly: a new connection plus ``SELECT 1`` against ``SELECT 1`` on a
kept connection.

Options: ``CONN_MAX_AGE=0`` (a connection per request, Django's default),
``CONN_MAX_AGE=60`` (one kept per worker, health-checked), ``DB_POOL=true`` (psycopg's
pool, per worker process). Pages: the admin client list as a manager (about 15
queries) and ``/healthz/`` (anonymous, 6 queries): the lighter the page, the more a
connection's set-up weighs.
"""

import argparse
import contextlib
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlencode, urlparse, urlunparse

import requests
from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent
PREFIX = "bench-web"
APP_NAME = "fitcrm-bench-web"
OPTIONS = {
    "CONN_MAX_AGE=0": {"CONN_MAX_AGE": "0", "DB_POOL": "false"},
    "CONN_MAX_AGE=60": {"CONN_MAX_AGE": "60", "DB_POOL": "false"},
    "DB_POOL=true": {"CONN_MAX_AGE": "0", "DB_POOL": "true"},
}
PAGES = {"admin client list": "/admin/clients/client/", "healthz": "/healthz/"}


def _database_url() -> str:
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        raise SystemExit("bench web needs PostgreSQL: set DATABASE_URL=postgres://...")
    # Tagged, so the connections the server holds can be counted.
    parts = urlparse(url)
    query = "&".join(q for q in [parts.query, urlencode({"application_name": APP_NAME})] if q)
    return urlunparse(parts._replace(query=query))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _seed(clients: int) -> str:
    """A manager with a logged-in session (its cookie is returned) and some clients."""
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
    from django.contrib.sessions.backends.db import SessionStore

    from clients.models import Client

    User = get_user_model()
    manager, _ = User.objects.get_or_create(
        username=f"{PREFIX}-manager", defaults={"is_staff": True, "is_superuser": True}
    )
    trainer, _ = User.objects.get_or_create(username=f"{PREFIX}-trainer", defaults={"is_staff": True})
    Client.objects.bulk_create(
        Client(first_name=f"Bench{i}", last_name="Web", email=f"bench-web{i}@example.com", trainer=trainer)
        for i in range(clients)
    )
    session = SessionStore()
    session[SESSION_KEY] = str(manager.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = manager.get_session_auth_hash()
    session.create()
    return session.session_key


def _cleanup(session_key: str = ""):
    from django.contrib.auth import get_user_model
    from django.contrib.sessions.models import Session

    from clients.models import Client

    Client.objects.filter(trainer__username=f"{PREFIX}-trainer").delete()
    get_user_model().objects.filter(username__startswith=PREFIX).delete()
    Session.objects.filter(session_key=session_key).delete()


def _connect_cost(n: int = 100) -> dict:
    """What a new connection costs against a query on a kept one (median of ``n``)."""
    import psycopg

    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    fresh, kept = [], []
    for _ in range(n):
        started = time.perf_counter()
        with psycopg.connect(**params) as conn:
            conn.execute("SELECT 1")
        fresh.append(time.perf_counter() - started)
    with psycopg.connect(**params) as conn:
        for _ in range(n):
            started = time.perf_counter()
            conn.execute("SELECT 1")
            kept.append(time.perf_counter() - started)
    return {
        "connect_and_select_ms": round(1000 * statistics.median(fresh), 2),
        "select_on_kept_connection_ms": round(1000 * statistics.median(kept), 2),
    }


def _held_connections() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = %s", [APP_NAME])
        return cursor.fetchone()[0]


@contextlib.contextmanager
def _gunicorn(env: dict, port: int):
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "gunicorn"), "-c", "deploy/gunicorn.conf.py"],
        cwd=ROOT,
        env={**env, "GUNICORN_BIND": f"127.0.0.1:{port}"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                requests.get(f"http://127.0.0.1:{port}/healthz/", timeout=10)
                break
            except requests.RequestException:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("gunicorn did not start") from None
                time.sleep(0.3)
        yield
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=40)


def _load(url: str, cookie: str, n: int, concurrency: int) -> dict:
    def worker(count):
        session = requests.Session()
        session.cookies.set("sessionid", cookie)
        times = []
        for _ in range(count):
            started = time.perf_counter()
            response = session.get(url, timeout=30)
            times.append(time.perf_counter() - started)
            if response.status_code not in (200, 503):  # /healthz/ is 503 without a worker
                raise RuntimeError(f"{url}: {response.status_code}")
        return times

    per_thread = [n // concurrency] * concurrency
    with ThreadPoolExecutor(concurrency) as pool:
        worker(max(concurrency, 20))  # warm every gunicorn worker up
        started = time.perf_counter()
        times = sorted(t for chunk in pool.map(worker, per_thread) for t in chunk)
        elapsed = time.perf_counter() - started
    return {
        "rps": len(times) / elapsed,
        "p50_ms": 1000 * times[len(times) // 2],
        "p95_ms": 1000 * times[int(len(times) * 0.95)],
    }


def run(args) -> dict:
    parser = argparse.ArgumentParser(prog="bench web")
    parser.add_argument("--requests", type=int, default=600, help="per option, page and round")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--clients", type=int, default=300)
    opts = parser.parse_args(args)
    url = _database_url()
    assert connection.vendor == "postgresql"
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    static_root = tempfile.mkdtemp(prefix="bench-web-static-")
    base_env = {
        **os.environ,
        "DATABASE_URL": url,
        "DEBUG": "false",
        "SECRET_KEY": settings.SECRET_KEY,  # the session cookie below is signed with it
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "false",
        "STATIC_ROOT": static_root,
        "LOG_LEVEL": "WARNING",
        "GUNICORN_FORWARDED_ALLOW_IPS": "",
    }
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"], cwd=ROOT, env=base_env, check=True
    )
    _cleanup()
    cookie = _seed(opts.clients)
    samples = {(o, p): [] for o in OPTIONS for p in PAGES}
    held = {o: [] for o in OPTIONS}
    try:
        for round_no in range(opts.rounds):
            for option, extra in OPTIONS.items():
                port = _free_port()
                with _gunicorn({**base_env, **extra}, port):
                    for page, path in PAGES.items():
                        result = _load(
                            f"http://127.0.0.1:{port}{path}", cookie, opts.requests, opts.concurrency
                        )
                        samples[option, page].append(result)
                        print(
                            f"round {round_no + 1} {option:16} {page:18} {result['rps']:7.1f} req/s "
                            f"p50 {result['p50_ms']:6.1f} ms p95 {result['p95_ms']:6.1f} ms",
                            flush=True,
                        )
                    held[option].append(_held_connections())
    finally:
        _cleanup(cookie)
    report = {}
    for (option, page), runs in samples.items():
        report.setdefault(option, {})[page] = {
            key: round(statistics.median(r[key] for r in runs), 1) for key in ("rps", "p50_ms", "p95_ms")
        }
    for option in OPTIONS:
        report[option]["connections_held_after_round"] = max(held[option])
    return {
        "connection_cost": _connect_cost(),
        "gunicorn": "deploy/gunicorn.conf.py (sync workers)",
        "workers": (os.cpu_count() or 1) * 2 + 1,
        "requests_per_page_and_round": opts.requests,
        "concurrency": opts.concurrency,
        "rounds": opts.rounds,
        "results": report,
    }
