"""The portal's pages cost a fixed number of queries, however many packages, payments
and sessions the client has (each section reads its rows at once, not one by one)."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from billing import services as billing
from billing.policy import Charge
from messaging.portal.tokens import make_portal_token
from tests.billing.stripe.conftest import STRIPE_SECRET_KEY, STRIPE_WEBHOOK_SECRET
from tests.factories import (
    ClientFactory,
    PaymentFactory,
    SessionFactory,
    SessionTypeFactory,
    sell_package,
    set_policy,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def money_switched_on(settings):
    # Everything the home page can show: pay links, a late-cancel fee, packages.
    settings.STRIPE_SECRET_KEY = STRIPE_SECRET_KEY
    settings.STRIPE_WEBHOOK_SECRET = STRIPE_WEBHOOK_SECRET
    set_policy(late_cancel_charge=Charge.FEE_PERCENT, late_cancel_percent=50, clients_may_cancel_late=True)


def add_money_and_sessions(client, n, offset):
    pt = SessionTypeFactory(price=Decimal("40"))
    for i in range(offset, offset + n):
        package = sell_package(client, sessions=5, shareable=True)
        package.package_type.session_types.add(pt)
        payment = PaymentFactory(client=client, amount=Decimal("60"))
        billing.payment_record_receipt(payment=payment, amount=Decimal("20"))
        # One inside the late-cancel window (its terms name a fee from its type's price).
        SessionFactory(client=client, session_type=pt, starts_at=timezone.now() + timedelta(hours=2 + i))
        SessionFactory(client=client, session_type=pt, starts_at=timezone.now() + timedelta(days=3 + i))
    other = ClientFactory(trainer=client.trainer)
    shared = sell_package(other, sessions=3, shareable=True)
    shared.shared_with.add(client)


def queries_for(client, url) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)


def test_portal_home_query_count_does_not_grow_with_packages_payments_and_sessions(
    client, client_obj, django_assert_max_num_queries
):
    url = reverse("portal:home", args=[make_portal_token(client_obj)])
    add_money_and_sessions(client_obj, 1, 0)
    client.get(url)
    with_one = queries_for(client, url)
    add_money_and_sessions(client_obj, 6, 1)
    with django_assert_max_num_queries(with_one):
        page = client.get(url).content.decode()
    # 7 payments and her 7 packages' own payments; her 7 packages and the 2 shared with her.
    assert page.count('class="button primary pay-now"') == 14
    assert page.count('id="package-') == 9
