"""A client's balance (what their open payments still owe): on the client's admin page and
list, in the portal, and as the segment condition "owes more than"."""

import datetime as dt
from decimal import Decimal
from urllib.parse import urlsplit

import pytest

from billing import services
from billing.models import Payment
from campaigns.models import Segment
from campaigns.selectors import segment_clients
from messaging.links import portal_link
from tests.factories import ClientFactory, PaymentFactory

pytestmark = pytest.mark.django_db


def owing(client, amount, received="0", **fields):
    payment = PaymentFactory(client=client, amount=Decimal(amount), **fields)
    if Decimal(received):
        services.payment_record_receipt(payment=payment, amount=Decimal(received))
    return payment


def test_the_client_page_shows_what_is_owed_and_how_much_is_overdue(trainer_client, client_obj):
    owing(client_obj, "60.00", received="25.00")
    owing(
        client_obj,
        "40.00",
        status=Payment.Status.OVERDUE,
        due_date=dt.date.today() - dt.timedelta(days=3),
    )
    owing(client_obj, "99.00", status=Payment.Status.CANCELLED)

    page = trainer_client.get(f"/admin/clients/client/{client_obj.pk}/change/").content.decode()

    assert "£75.00 owed on 2 open payment(s), £40.00 of it overdue." in page


def test_a_client_who_owes_nothing_says_so(trainer_client, client_obj):
    page = trainer_client.get(f"/admin/clients/client/{client_obj.pk}/change/").content.decode()
    assert "Nothing owed." in page


def test_the_client_list_shows_each_balance(trainer_client, trainer):
    ann = ClientFactory(trainer=trainer, first_name="Ann")
    bob = ClientFactory(trainer=trainer, first_name="Bob")
    owing(ann, "60.00", received="20.00")
    owing(ann, "15.50")

    response = trainer_client.get("/admin/clients/client/")

    owes = {c.first_name: c._owes for c in response.context["cl"].result_list}
    assert owes == {"Ann": Decimal("55.50"), "Bob": Decimal("0.00")}
    assert "£55.50" in response.content.decode()
    assert bob  # listed, owing nothing ("—")


def test_the_portal_shows_the_balance_and_each_part_paid_payment(client, client_obj):
    owing(client_obj, "60.00", received="25.00", description="Ten-pack")
    owing(client_obj, "12.00", description="Towel hire")

    page = client.get(urlsplit(portal_link(client_obj)).path).content.decode()

    assert "You owe <strong>£47.00</strong>." in page
    assert "£35.00</strong> · Ten-pack" in page
    assert "£25.00 of £60.00 paid so far" in page
    assert "£12.00</strong> · Towel hire" in page


class TestSegment:
    @pytest.fixture
    def clients(self, trainer):
        ann, bob, cat, dan = (
            ClientFactory(trainer=trainer, first_name=n) for n in ("Ann", "Bob", "Cat", "Dan")
        )
        owing(ann, "80.00", received="10.00")  # owes 70
        owing(bob, "30.00")
        owing(bob, "25.00")  # owes 55 over two payments
        owing(cat, "50.00", received="50.00")  # paid
        owing(dan, "500.00", status=Payment.Status.CANCELLED)
        return ann, bob, cat, dan

    def matches(self, manager, threshold):
        segment = Segment.objects.create(name="owes", owner=manager, owes_more_than=Decimal(threshold))
        return set(segment_clients(segment).values_list("first_name", flat=True))

    def test_owes_more_than_sums_open_balances(self, manager, clients):
        assert self.matches(manager, "50") == {"Ann", "Bob"}
        assert self.matches(manager, "55") == {"Ann"}
        assert self.matches(manager, "0") == {"Ann", "Bob"}
        assert self.matches(manager, "70") == set()

    def test_it_stays_one_query(self, manager, clients, django_assert_num_queries):
        segment = Segment.objects.create(
            name="owes", owner=manager, owes_more_than=Decimal("20"), has_overdue_payment=False
        )
        # 1: the segment's tag ids; 2: is the owner a manager; 3: the clients, the
        # balance a correlated sum inside the one WHERE.
        with django_assert_num_queries(3):
            assert len(list(segment_clients(segment))) == 2

    def test_a_negative_amount_is_a_form_error(self, manager_client):
        response = manager_client.post(
            "/admin/campaigns/segment/add/", {"name": "x", "tags_match": "any", "owes_more_than": "-1"}
        )
        assert response.status_code == 200
        assert response.context["adminform"].form.errors["owes_more_than"] == [
            "Enter 0 or more (0: owes anything at all)."
        ]
