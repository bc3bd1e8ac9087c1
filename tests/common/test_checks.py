"""System checks on rules between settings (common/checks.py)."""

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import override_settings

from common.checks import check_proxy_header, check_site_url, check_task_timing


def ids(messages):
    return sorted(message.id for message in messages)


# --- SITE_URL in production -------------------------------------------------------------


@pytest.mark.parametrize(
    ("site_url", "expected"),
    [
        ("", ["fitcrm.E001"]),
        ("https://[not-closed", ["fitcrm.E001"]),
        ("http://crm.example.com", ["fitcrm.E002"]),
        ("https://127.0.0.1:8000", ["fitcrm.E003"]),
        ("https://127.1.2.3", ["fitcrm.E003"]),
        ("https://localhost", ["fitcrm.E003"]),
        ("https://crm.localhost", ["fitcrm.E003"]),
        ("https://[::1]:8443", ["fitcrm.E003"]),
        ("https://0.0.0.0", ["fitcrm.E003"]),
        ("http://127.0.0.1:8000", ["fitcrm.E002", "fitcrm.E003"]),
        ("https:///path-only", ["fitcrm.E003"]),
    ],
)
def test_a_production_site_url_must_be_public_https(site_url, expected):
    with override_settings(DEBUG=False, SITE_URL=site_url):
        assert ids(check_site_url()) == expected


@pytest.mark.parametrize(
    "site_url", ["https://crm.example.com", "https://studio.example/crm", "https://10.0.0.5"]
)
def test_a_public_https_site_url_passes(site_url):
    with override_settings(DEBUG=False, SITE_URL=site_url):
        assert check_site_url() == []


def test_development_may_use_a_local_site_url():
    with override_settings(DEBUG=True, SITE_URL="http://127.0.0.1:8000"):
        assert check_site_url() == []


def test_the_site_url_check_runs_under_check_deploy():
    with (
        override_settings(DEBUG=False, SITE_URL="http://127.0.0.1:8000"),
        pytest.raises(SystemCheckError, match="fitcrm.E002"),
    ):
        call_command("check", deploy=True)


# --- Proxy header ------------------------------------------------------------------------


def test_an_untrusted_proxy_header_with_ssl_redirect_is_pointed_out():
    with override_settings(DEBUG=False, SECURE_SSL_REDIRECT=True, TRUST_X_FORWARDED_PROTO=False):
        assert ids(check_proxy_header()) == ["fitcrm.I001"]
    with override_settings(DEBUG=False, SECURE_SSL_REDIRECT=True, TRUST_X_FORWARDED_PROTO=True):
        assert check_proxy_header() == []


# --- Task timing ---------------------------------------------------------------------------


def q(**values):
    return {**settings.Q_CLUSTER, **values}


def test_the_default_timing_passes():
    assert check_task_timing() == []


def test_a_delivery_budget_at_the_task_timeout_is_refused():
    with override_settings(MESSAGING_TASK_SECONDS=115, TWILIO_HTTP_TIMEOUT=10, Q_CLUSTER=q(timeout=120)):
        assert ids(check_task_timing()) == ["fitcrm.E011"]


def test_a_task_timeout_not_below_the_retry_is_refused():
    with override_settings(Q_CLUSTER=q(timeout=180, retry=180)):
        assert ids(check_task_timing()) == ["fitcrm.E012"]


def test_a_sending_timeout_below_the_retry_is_refused():
    # The probe's case: recovery would re-queue a batch a live worker is still sending.
    with override_settings(MESSAGING_SENDING_TIMEOUT_SECONDS=30):
        assert ids(check_task_timing()) == ["fitcrm.E013"]


def test_a_cluster_without_timeout_is_refused():
    with override_settings(Q_CLUSTER={k: v for k, v in settings.Q_CLUSTER.items() if k != "timeout"}):
        assert ids(check_task_timing()) == ["fitcrm.E010"]


def test_the_timing_check_stops_every_command_not_only_deploy():
    with (
        override_settings(MESSAGING_SENDING_TIMEOUT_SECONDS=30),
        pytest.raises(SystemCheckError, match="fitcrm.E013"),
    ):
        call_command("check")
