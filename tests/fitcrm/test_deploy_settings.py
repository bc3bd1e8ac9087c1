"""Production start-ups: the proxy header is trusted only when configured, and
``check --deploy`` is clean with real production values and refuses a bad SITE_URL."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

BASE_DIR = Path(__file__).resolve().parents[2]

# A developer's .env must not leak into these start-ups, so it is not read.
SETUP = "import environ; environ.Env.read_env = lambda *a, **k: None; import django; django.setup(); "
SHOW_PROXY = SETUP + (
    "from django.conf import settings; "
    "print('header', getattr(settings, 'SECURE_PROXY_SSL_HEADER', None), 'redirect', settings.SECURE_SSL_REDIRECT)"
)
CHECK_DEPLOY = SETUP + (
    "from django.core.management import call_command; call_command('check', deploy=True, fail_level='WARNING')"
)
PRODUCTION = {
    "DEBUG": "false",
    "SECRET_KEY": "a-long-random-production-secret-key-for-this-test-only-1234567890",
    "ALLOWED_HOSTS": "crm.example.com",
    "SITE_URL": "https://crm.example.com",
}
OURS = {"DEBUG", "SECRET_KEY", "ALLOWED_HOSTS", "SITE_URL", "TRUST_X_FORWARDED_PROTO", "SECURE_SSL_REDIRECT"}


def run(code, **env_vars):
    env = {k: v for k, v in os.environ.items() if k not in OURS}
    env["DJANGO_SETTINGS_MODULE"] = "fitcrm.settings"
    env.update(env_vars)
    return subprocess.run(
        [sys.executable, "-c", code], cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=60
    )


def test_production_does_not_trust_x_forwarded_proto_by_default():
    result = run(SHOW_PROXY, **PRODUCTION)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("header None redirect True")


def test_production_behind_a_proxy_trusts_it_when_told():
    result = run(SHOW_PROXY, **PRODUCTION, TRUST_X_FORWARDED_PROTO="true")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("header ('HTTP_X_FORWARDED_PROTO', 'https') redirect True")


def test_a_mistyped_trust_setting_stops_start_up():
    result = run(SHOW_PROXY, **PRODUCTION, TRUST_X_FORWARDED_PROTO="ture")
    assert result.returncode != 0
    assert "TRUST_X_FORWARDED_PROTO='ture' is not a boolean" in result.stderr


@pytest.mark.parametrize("trust", ["false", "true"])
def test_check_deploy_is_clean_with_production_values(trust):
    result = run(CHECK_DEPLOY, **PRODUCTION, TRUST_X_FORWARDED_PROTO=trust)
    assert result.returncode == 0, result.stderr + result.stdout


@pytest.mark.parametrize(
    ("site_url", "error"),
    [
        (None, "fitcrm.E001"),
        ("http://crm.example.com", "fitcrm.E002"),
        ("https://127.0.0.1:8000", "fitcrm.E003"),
    ],
)
def test_check_deploy_refuses_a_wrong_site_url(site_url, error):
    env = {**PRODUCTION}
    if site_url is None:
        del env["SITE_URL"]
    else:
        env["SITE_URL"] = site_url
    result = run(CHECK_DEPLOY, **env)
    assert result.returncode != 0
    assert error in result.stderr
