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
