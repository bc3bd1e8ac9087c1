"""DEBUG=false serves static files and keeps database connections the way deploy/ expects."""

import json
import os
import subprocess
import sys
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[2]
PRODUCTION = {
    "DEBUG": "false",
    "SECRET_KEY": "a-long-random-production-secret-key-for-this-test-only-1234567890",
    "ALLOWED_HOSTS": "crm.example.com",
    "SITE_URL": "https://crm.example.com",
}
SHOW = (
    "import environ, json; environ.Env.read_env = lambda *a, **k: None; "
    "import django; django.setup(); from django.conf import settings as s; "
    "db = s.DATABASES['default']; "
    "print(json.dumps({'storage': s.STORAGES['staticfiles']['BACKEND'], 'static_root': str(s.STATIC_ROOT), "
    "'whitenoise': 'whitenoise.middleware.WhiteNoiseMiddleware' in s.MIDDLEWARE, "
    "'autorefresh': s.WHITENOISE_AUTOREFRESH, 'conn_max_age': db['CONN_MAX_AGE'], "
    "'health_checks': db['CONN_HEALTH_CHECKS'], 'pool': db.get('OPTIONS', {}).get('pool')}))"
)
UNSET = {
    "DEBUG",
    "SECRET_KEY",
    "ALLOWED_HOSTS",
    "SITE_URL",
    "DATABASE_URL",
    "CONN_MAX_AGE",
    "DB_POOL",
    "STATIC_ROOT",
}


def show(**env_vars):
    env = {k: v for k, v in os.environ.items() if k not in UNSET}
    env.update(DJANGO_SETTINGS_MODULE="fitcrm.settings", **env_vars)
    result = subprocess.run(
        [sys.executable, "-c", SHOW], cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=60
    )
    return result, (json.loads(result.stdout) if result.returncode == 0 else None)


def test_production_serves_hashed_compressed_static_files_and_keeps_connections():
    result, shown = show(**PRODUCTION)
    assert result.returncode == 0, result.stderr
    assert shown["storage"] == "whitenoise.storage.CompressedManifestStaticFilesStorage"
    assert shown["whitenoise"] is True and shown["autorefresh"] is False
    assert shown["static_root"] == str(BASE_DIR / "staticfiles")
    assert (shown["conn_max_age"], shown["health_checks"], shown["pool"]) == (60, True, None)


def test_development_needs_no_collectstatic_and_opens_a_connection_per_request():
    result, shown = show()
    assert result.returncode == 0, result.stderr
    assert shown["storage"] == "django.contrib.staticfiles.storage.StaticFilesStorage"
    assert shown["autorefresh"] is True
    assert shown["conn_max_age"] == 0


def test_static_root_and_conn_max_age_come_from_the_environment():
    _, shown = show(**PRODUCTION, STATIC_ROOT="/srv/fitcrm/static", CONN_MAX_AGE="0")
    assert (shown["static_root"], shown["conn_max_age"]) == ("/srv/fitcrm/static", 0)


def test_db_pool_replaces_persistent_connections_on_postgresql():
    _, shown = show(
        **PRODUCTION, DATABASE_URL="postgres://u:p@127.0.0.1:5432/x", DB_POOL="true", DB_POOL_MAX_SIZE="8"
    )
    assert shown["conn_max_age"] == 0
    assert shown["pool"] == {"min_size": 1, "max_size": 8, "timeout": 10}


def test_db_pool_without_postgresql_stops_start_up():
    result, _ = show(**PRODUCTION, DB_POOL="true")
    assert result.returncode != 0
    assert "DB_POOL=true needs PostgreSQL" in result.stderr
