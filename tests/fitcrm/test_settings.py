"""Settings come from the environment and refuse to start on a dangerous or mistyped value."""

import os
import subprocess
import sys
from pathlib import Path

import environ
import pytest
from django.core.exceptions import ImproperlyConfigured

from common.envutils import strict_bool

BASE_DIR = Path(__file__).resolve().parents[2]

# A developer's .env must not leak into these start-ups, so it is not read.
START = (
    "import environ; environ.Env.read_env = lambda *a, **k: None; "
    "import django; django.setup(); from django.conf import settings; "
    "print('started', settings.DEBUG, settings.DATABASES['default']['ENGINE'])"
)
PRODUCTION = {
    "DEBUG": "false",
    "SECRET_KEY": "a-long-random-production-secret-key-for-this-test-only-1234567890",
    "ALLOWED_HOSTS": "crm.example.com",
}


def start(**env_vars):
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DEBUG", "SECRET_KEY", "ALLOWED_HOSTS", "STUDIO_TIME_ZONE", "Q_BROKER", "Q_SYNC"}
    }
    env["DJANGO_SETTINGS_MODULE"] = "fitcrm.settings"
    env.update(env_vars)
    return subprocess.run(
        [sys.executable, "-c", START], cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=60
    )


def assert_refused(result, message):
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert message in result.stderr
    assert "started" not in result.stdout


def test_development_starts_with_no_configuration_at_all():
    result = start()
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("started True")


def test_production_values_start():
    result = start(**PRODUCTION)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("started False")


def test_refuses_to_start_without_secret_key_when_debug_is_off():
    result = start(**{**PRODUCTION, "SECRET_KEY": ""})
    assert_refused(result, "SECRET_KEY must be set when DEBUG is off.")


def test_refuses_to_start_without_allowed_hosts_when_debug_is_off():
    result = start(**{**PRODUCTION, "ALLOWED_HOSTS": ""})
    assert_refused(result, "ALLOWED_HOSTS must be set when DEBUG is off")


@pytest.mark.parametrize("value", ["flase", "maybe", "2"])
def test_refuses_a_mistyped_boolean_instead_of_guessing(value):
    result = start(DEBUG=value)
    assert_refused(result, f"DEBUG={value!r} is not a boolean")


def test_refuses_an_unknown_studio_time_zone():
    assert_refused(
        start(STUDIO_TIME_ZONE="Mars/Base"), "STUDIO_TIME_ZONE='Mars/Base' is not an IANA time zone."
    )


def test_refuses_an_unknown_broker():
    assert_refused(start(Q_BROKER="amqp://rabbit"), "Q_BROKER must be 'orm' or a redis:// URL")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1", True),
        ("TRUE", True),
        (" yes ", True),
        ("on", True),
        ("0", False),
        ("False", False),
        ("no", False),
    ],
)
def test_strict_bool_reads_the_usual_words(monkeypatch, raw, expected):
    monkeypatch.setenv("FITCRM_TEST_FLAG", raw)
    assert strict_bool(environ.Env(), "FITCRM_TEST_FLAG", default=not expected) is expected


def test_strict_bool_uses_the_default_only_when_unset(monkeypatch):
    monkeypatch.delenv("FITCRM_TEST_FLAG", raising=False)
    assert strict_bool(environ.Env(), "FITCRM_TEST_FLAG", default=True) is True
    monkeypatch.setenv("FITCRM_TEST_FLAG", "nope")
    with pytest.raises(ImproperlyConfigured, match="FITCRM_TEST_FLAG='nope' is not a boolean"):
        strict_bool(environ.Env(), "FITCRM_TEST_FLAG", default=True)


def test_q_cluster_timeout_is_below_retry_and_attempts_are_bounded(settings):
    q = settings.Q_CLUSTER
    assert q["timeout"] < q["retry"]
    assert q["max_attempts"] >= 1
    assert q["catch_up"] is False
    assert settings.USE_TZ is True
