"""LOG_FORMAT=json: one JSON object a line; every delivery line carries the message, rule
and campaign ids as fields of their own. Optional Sentry stays off without a DSN."""

import json
import logging
import subprocess
import sys
from pathlib import Path

import pytest

from automation.models import AutomationRule
from common.logformat import JsonFormatter
from messaging.delivery import deliver_due
from messaging.models import Message
from tests.factories import ClientFactory

BASE_DIR = Path(__file__).resolve().parents[2]


def as_json(record: logging.LogRecord) -> dict:
    return json.loads(JsonFormatter().format(record))


def test_a_line_is_one_json_object_with_the_extra_fields():
    record = logging.LogRecord("messaging.delivery", logging.INFO, __file__, 1, "message %s sent", (7,), None)
    record.message_id = 7
    record.rule_id = None
    line = JsonFormatter().format(record)
    assert "\n" not in line
    assert json.loads(line) | {"time": "t"} == {
        "time": "t",
        "level": "INFO",
        "logger": "messaging.delivery",
        "message": "message 7 sent",
        "message_id": 7,
        "rule_id": None,
    }


def test_an_exception_is_kept_in_the_line():
    try:
        raise ValueError("boom")
    except ValueError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", (), sys.exc_info())
    entry = as_json(record)
    assert entry["message"] == "failed"
    assert "ValueError: boom" in entry["exc"]


@pytest.mark.django_db
def test_each_delivery_outcome_is_logged_with_the_ids(caplog):
    rule = AutomationRule.objects.create(
        name="Reminder", trigger_event="session_scheduled", channel="email", body_template="Hi"
    )
    sent = Message.objects.create(
        client=ClientFactory(email="a@example.com"), channel="email", subject="Hi", body="Hi", rule=rule
    )
    suppressed = Message.objects.create(
        client=ClientFactory(email=""), channel="email", subject="Hi", body="Hi"
    )
    with caplog.at_level(logging.INFO, logger="messaging.delivery"):
        deliver_due(limit=10)
    lines = {r.message_id: r for r in caplog.records if r.name == "messaging.delivery"}
    assert set(lines) == {sent.pk, suppressed.pk}
    assert (lines[sent.pk].outcome, lines[sent.pk].rule_id, lines[sent.pk].campaign_id) == (
        "sent",
        rule.pk,
        None,
    )
    assert lines[suppressed.pk].outcome == "suppressed"
    entry = as_json(lines[sent.pk])
    assert (entry["message_id"], entry["rule_id"], entry["campaign_id"]) == (sent.pk, rule.pk, None)
    assert "a@example.com" not in json.dumps(entry)  # no addresses in the logs


START = (
    "import environ; environ.Env.read_env = lambda *a, **k: None; "
    "import django; django.setup(); import logging, sentry_sdk; "
    "print(sentry_sdk.get_client().is_active()); "
    "logging.getLogger('probe').warning('hello', extra={'message_id': 3})"
)


def start(**env_vars):
    import os

    env = {k: v for k, v in os.environ.items() if k not in {"LOG_FORMAT", "SENTRY_DSN"}}
    env.update(DJANGO_SETTINGS_MODULE="fitcrm.settings", **env_vars)
    return subprocess.run(
        [sys.executable, "-c", START], cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=60
    )


def test_log_format_json_switches_the_console_to_json_lines():
    result = start(LOG_FORMAT="json")
    assert result.returncode == 0, result.stderr
    entry = json.loads(result.stderr.strip().splitlines()[-1])
    assert (entry["logger"], entry["message"], entry["message_id"]) == ("probe", "hello", 3)
    plain = start()
    assert plain.stderr.strip().endswith("WARNING probe: hello")


def test_an_unknown_log_format_stops_start_up():
    result = start(LOG_FORMAT="xml")
    assert result.returncode != 0
    assert "LOG_FORMAT must be 'plain' or 'json'" in result.stderr


def test_sentry_is_off_without_a_dsn_and_on_with_one():
    assert start().stdout.strip() == "False"
    # A DSN on a closed local port: the SDK starts; nothing is sent at start-up.
    assert start(SENTRY_DSN="http://public@127.0.0.1:9/1").stdout.strip() == "True"
