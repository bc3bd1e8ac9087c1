import pytest
from django_q.models import OrmQ

URL = "/automation/run-triggers/"
pytestmark = pytest.mark.django_db


@pytest.fixture
def token(settings):
    settings.TRIGGERS_TOKEN = "s3cret-token"
    return settings.TRIGGERS_TOKEN


def test_endpoint_does_not_exist_without_a_token(client, settings):
    settings.TRIGGERS_TOKEN = ""
    assert client.post(URL, HTTP_AUTHORIZATION="Bearer anything").status_code == 404


def test_get_is_not_allowed(client, token):
    response = client.get(URL, HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 405
    assert OrmQ.objects.count() == 0


@pytest.mark.parametrize("header", [None, "", "Bearer", "Bearer ", "Basic czNjcmV0LXRva2Vu"])
def test_missing_token_is_401(client, token, header):
    extra = {} if header is None else {"HTTP_AUTHORIZATION": header}
    response = client.post(URL, **extra)
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert OrmQ.objects.count() == 0


@pytest.mark.parametrize("given", ["wrong", "s3cret-toke", "s3cret-token2"])
def test_wrong_token_is_403(client, token, given):
    assert client.post(URL, HTTP_AUTHORIZATION=f"Bearer {given}").status_code == 403
    assert OrmQ.objects.count() == 0


def test_right_token_only_queues_the_scan(client, token, django_assert_max_num_queries):
    # One insert into the broker's queue (in a savepoint here: SAVEPOINT, INSERT, RELEASE);
    # the scan itself runs in the worker.
    with django_assert_max_num_queries(3):
        response = client.post(URL, HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 202
    assert response.json()["queued"] is True
    assert OrmQ.objects.count() == 1


def test_queued_scan_runs_in_the_worker(client, token, q_sync, make_rule):
    from automation.models import ScanState

    client.post(URL, HTTP_AUTHORIZATION=f"Bearer {token}")
    assert ScanState.objects.exists()
