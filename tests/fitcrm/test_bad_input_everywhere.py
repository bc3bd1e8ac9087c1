"""Crafted addresses outside the admin's own lists: a clear 4xx, never a 500.

A NUL character in a query string would reach PostgreSQL as a text parameter
(which refuses it), so it is dropped before any view runs.
"""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "url",
    [
        "/inbox/new/?q=a%00b",
        "/admin/autocomplete/?app_label=clients&model_name=client&field_name=tags&term=a%00b",
        "/admin/automation/automationrule/?name=a%00b",
        "/admin/clients/client/?q=%00",
    ],
)
def test_a_nul_character_in_the_query_string_never_reaches_the_database(manager_client, url):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        response = manager_client.get(url)
    assert response.status_code == 200
    assert not any("\x00" in str(q["sql"]) for q in queries.captured_queries)


@pytest.mark.parametrize("token", ["%C2%B2.abc.def", "\u0661\u0662.x.y", "99999999999999999999999.x.y"])
def test_a_crafted_portal_token_gets_the_friendly_invalid_link_page(client, token):
    response = client.get(f"/portal/{token}/")
    assert response.status_code == 404
    assert b"<form" not in response.content


@pytest.mark.parametrize("trainer", ["99999999999999999999999", "-5", "1e9", "abc"])
def test_an_impossible_trainer_filter_in_the_inbox_is_ignored(manager_client, trainer):
    assert manager_client.get(f"/inbox/?trainer={trainer}").status_code == 200


@pytest.mark.parametrize("moment", ["0001-01-02T00:00+00:00", "9999-12-31T12:00+00:00"])
def test_run_triggers_refuses_a_now_far_outside_the_calendar_with_a_clear_error(moment):
    with pytest.raises(CommandError, match="--now"):
        call_command("run_triggers", "--now", moment, "--dry-run", stdout=StringIO(), stderr=StringIO())
