"""The admin lists cost the same number of queries for 5 rows as for 50 (no N+1)."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from scheduling.models import Session
from tests.factories import ClientFactory, PaymentFactory, SessionFactory, TagFactory

pytestmark = pytest.mark.django_db

LISTS = ["/admin/clients/client/", "/admin/scheduling/session/", "/admin/billing/payment/"]


def add_rows(trainer, count, offset=0):
    tags = [TagFactory(name=f"tag-{i}") for i in range(3)]
    for i in range(offset, offset + count):
        client = ClientFactory(trainer=trainer)
        client.tags.add(tags[i % 3])
        SessionFactory(client=client, starts_at=timezone.now() + timedelta(days=1, hours=i))
        PaymentFactory(client=client)


def queries_for(http, url):
    with CaptureQueriesContext(connection) as captured:
        response = http.get(url)
    assert response.status_code == 200
    return len(captured)


@pytest.mark.parametrize("url", LISTS)
@pytest.mark.parametrize("who", ["trainer_client", "manager_client"])
def test_list_query_count_does_not_grow_with_rows(request, trainer, django_assert_max_num_queries, url, who):
    http = request.getfixturevalue(who)
    add_rows(trainer, 5)
    http.get(url)  # warm per-process caches (content types)
    with_five = queries_for(http, url)
    # Expected, whatever the row count (about a dozen):
    #   session, user, user permissions, group permissions, "is manager?" group check,
    #   [managers: the trainer filter's users], [clients: the tag filter's tags],
    #   filtered count, total count, the page of rows (one query, related rows joined,
    #   upcoming sessions as a subquery), site-wide context (unread inbox count),
    #   date hierarchy: min/max and the distinct days.
    assert with_five <= 14

    add_rows(trainer, 45, offset=5)
    with django_assert_max_num_queries(with_five):
        response = http.get(url)
    assert response.context["cl"].result_count == 50


def test_upcoming_sessions_column_counts_only_future_scheduled_sessions(trainer_client, trainer):
    client = ClientFactory(trainer=trainer, first_name="Una")
    client.tags.add(TagFactory(name="a"), TagFactory(name="b"))
    soon = timezone.now() + timedelta(days=1)
    SessionFactory(client=client, starts_at=soon)
    SessionFactory(client=client, starts_at=soon + timedelta(days=7))
    SessionFactory(client=client, starts_at=soon + timedelta(days=14), status=Session.Status.CANCELLED)
    SessionFactory(client=client, starts_at=timezone.now() - timedelta(days=7))
    for query in ["", f"?tags__id__exact={client.tags.first().pk}", "?o=6"]:
        response = trainer_client.get("/admin/clients/client/" + query)
        [row] = response.context["cl"].result_list
        assert row._upcoming == 2


def test_client_page_query_count_does_not_grow_with_its_sessions_and_payments(
    trainer_client, client_obj, django_assert_max_num_queries
):
    def add(n, offset):
        for i in range(offset, offset + n):
            SessionFactory(client=client_obj, starts_at=timezone.now() + timedelta(days=i))
            PaymentFactory(client=client_obj)

    url = f"/admin/clients/client/{client_obj.pk}/change/"
    add(3, 0)
    trainer_client.get(url)
    with_three = queries_for(trainer_client, url)
    add(30, 3)
    with django_assert_max_num_queries(with_three):
        trainer_client.get(url)


def test_session_autocomplete_query_count_does_not_grow_with_results(
    trainer_client, client_obj, django_assert_max_num_queries
):
    url = "/admin/autocomplete/?app_label=billing&model_name=payment&field_name=session"
    SessionFactory(client=client_obj)
    trainer_client.get(url)
    with_one = queries_for(trainer_client, url)
    for i in range(1, 20):
        SessionFactory(
            client=ClientFactory(trainer=client_obj.trainer), starts_at=timezone.now() + timedelta(days=i)
        )
    with django_assert_max_num_queries(with_one):
        response = trainer_client.get(url)
    assert len(response.json()["results"]) == 20


def test_client_page_query_count_does_not_grow_with_packages_receipts_and_charges(
    trainer_client, client_obj, django_assert_max_num_queries
):
    # The money parts on the client page: balance, packages (own and shared), part-paid
    # payments with receipts, no-show fees.
    from decimal import Decimal

    from billing import services as billing
    from billing.policy import Charge
    from scheduling import services as scheduling
    from tests.factories import sell_package, set_policy

    set_policy(no_show_charge=Charge.FEE_FIXED, no_show_fee=Decimal("20"))

    def add(n, offset):
        for i in range(offset, offset + n):
            sell_package(client_obj, sessions=5, shareable=True)
            payment = PaymentFactory(client=client_obj, amount=Decimal("60"))
            billing.payment_record_receipt(payment=payment, amount=Decimal("20"))
            billing.payment_record_receipt(payment=payment, amount=Decimal("10"))
            session = SessionFactory(client=client_obj, starts_at=timezone.now() - timedelta(days=i + 1))
            scheduling.session_mark_no_show(session=session)
        other = ClientFactory(trainer=client_obj.trainer)
        sell_package(other, sessions=3, shareable=True).shared_with.add(client_obj)

    url = f"/admin/clients/client/{client_obj.pk}/change/"
    add(2, 0)
    trainer_client.get(url)
    with_two = queries_for(trainer_client, url)
    add(12, 2)
    with django_assert_max_num_queries(with_two):
        trainer_client.get(url)
