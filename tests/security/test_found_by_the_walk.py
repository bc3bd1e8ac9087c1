"""Focused regressions for what the URL walk (test_url_walk.py) found.

The campaign page saved after the campaign started sending is covered in
tests/campaigns/test_broken_campaigns.py.
"""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "url",
    [
        "/admin/django_q/success/%00/change/",
        "/admin/django_q/failure/a%00b/delete/",
        "/admin/clients/client/1%00/change/",
        "/portal/%00/",
        "/inbox/%00/",
    ],
)
def test_a_nul_character_in_the_path_is_not_found_before_any_lookup(trainer_client, url):
    # django-q's task admin looks its text primary key up before checking permissions:
    # on PostgreSQL the NUL was a DataError, a 500 for any staff user.
    with CaptureQueriesContext(connection) as queries:
        get = trainer_client.get(url)
        post = trainer_client.post(url, {"x": "y"})
    assert (get.status_code, post.status_code) == (404, 404)
    assert not any("\x00" in str(q["sql"]) for q in queries.captured_queries)


def test_an_impossible_date_on_the_calendar_page_starts_from_today(trainer_client):
    # parse_date raises on a well-formed impossible date: it was a 500.
    assert trainer_client.get("/calendar/?date=2026-13-45").status_code == 200


@pytest.mark.parametrize(
    "url",
    [
        "/admin/clients/client/?created_at__gte=0001-01-01+00:00:00%2B14:00",
        "/admin/scheduling/session/?starts_at__lt=9999-12-31+23:59:59-12:00",
    ],
)
def test_an_admin_filter_at_the_calendars_end_is_a_bad_request_not_a_500(manager_client, url):
    # The admin accepts the lookup; the overflow comes when the query is compiled into
    # UTC (SQLite's adapter; psycopg hands PostgreSQL the offset and it answers).
    response = manager_client.get(url)
    assert response.status_code in (200, 400)
    if response.status_code == 400:
        assert b"out of range" in response.content
