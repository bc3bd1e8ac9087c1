"""Packages in the admin and the portal: selling, the ledger, staff adjustments, scoping."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from billing import credits
from billing.models import ClientPackage, CreditEntry, Payment
from messaging.portal.tokens import make_portal_token
from scheduling import services as sessions
from tests.factories import ClientFactory, PackageTypeFactory, SessionFactory, sell_package

pytestmark = pytest.mark.django_db
ADD_URL = "/admin/billing/clientpackage/add/"
Kind = CreditEntry.Kind


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel("2026-03-10 12:00Z", tick=False):
        yield


def credits_url(package):
    return reverse("admin:billing_clientpackage_credits", args=[package.pk])


def completed_session(client, days_ago=1):
    session = SessionFactory(client=client, starts_at=timezone.now() - timedelta(days=days_ago))
    return sessions.session_mark_completed(session=session)


class TestSelling:
    def test_a_trainer_sells_a_package_to_her_client(self, trainer_client, trainer, client_obj):
        package_type = PackageTypeFactory(name="Five pack", sessions=5, price=Decimal("220.00"))
        response = trainer_client.post(
            ADD_URL,
            {
                "client": client_obj.pk,
                "package_type": package_type.pk,
                "bought_on": "2026-03-10",
                "due_date": "2026-03-24",
                "credit_entries-TOTAL_FORMS": "0",
                "entries-TOTAL_FORMS": "0",
                "entries-INITIAL_FORMS": "0",
            },
        )
        assert response.status_code == 302, response.context["adminform"].form.errors
        package = ClientPackage.objects.get()
        assert (package.client, package.sold_by, package.valid_until) == (
            client_obj,
            trainer,
            date(2026, 6, 7),
        )
        assert (package.payment.amount, package.payment.due_date) == (Decimal("220.00"), date(2026, 3, 24))
        assert credits.credits_left(package) == 5

    def test_sharing_a_type_that_is_not_shareable_is_a_form_error(self, trainer_client, client_obj):
        partner = ClientFactory(trainer=client_obj.trainer)
        response = trainer_client.post(
            ADD_URL,
            {
                "client": client_obj.pk,
                "package_type": PackageTypeFactory().pk,
                "bought_on": "2026-03-10",
                "shared_with": [partner.pk],
                "entries-TOTAL_FORMS": "0",
                "entries-INITIAL_FORMS": "0",
            },
        )
        assert response.status_code == 200
        assert "cannot be shared" in str(response.context["adminform"].form.errors["shared_with"])
        assert not ClientPackage.objects.exists() and not Payment.objects.exists()

    def test_a_trainer_cannot_sell_to_another_trainers_client(self, trainer_client, other_trainer):
        stranger = ClientFactory(trainer=other_trainer)
        response = trainer_client.post(
            ADD_URL,
            {
                "client": stranger.pk,
                "package_type": PackageTypeFactory().pk,
                "bought_on": "2026-03-10",
                "entries-TOTAL_FORMS": "0",
                "entries-INITIAL_FORMS": "0",
            },
        )
        assert response.status_code == 200
        assert "client" in response.context["adminform"].form.errors
        assert not ClientPackage.objects.exists()

    def test_trainers_read_package_types(self, trainer_client):
        assert trainer_client.get("/admin/billing/packagetype/").status_code == 200
        assert trainer_client.get("/admin/billing/packagetype/add/").status_code == 403

    def test_managers_write_package_types(self, manager_client):
        assert manager_client.get("/admin/billing/packagetype/add/").status_code == 200


class TestLedgerPage:
    def test_the_package_page_lists_which_session_used_which_credit(self, trainer_client, client_obj):
        package = sell_package(client_obj, bought_on=date(2026, 3, 1))
        session = completed_session(client_obj)
        page = trainer_client.get(reverse("admin:billing_clientpackage_change", args=[package.pk]))
        html = page.content.decode()
        assert page.status_code == 200
        assert "4 of 5" in html
        assert reverse("admin:scheduling_session_change", args=[session.pk]) in html
        assert "Spent on a session" in html and "session completed" in html

    def test_another_trainers_package_is_not_found(self, trainer_client, other_trainer):
        package = sell_package(ClientFactory(trainer=other_trainer))
        assert (
            trainer_client.get(reverse("admin:billing_clientpackage_change", args=[package.pk])).status_code
            == 302
        )
        response = trainer_client.post(
            credits_url(package), {"form": "adjust", "adjust-delta": "5", "adjust-reason": "free credits"}
        )
        assert response.status_code == 302
        assert credits.credits_left(package) == 5

    def test_an_adjustment_is_recorded_with_who_and_why(self, trainer_client, trainer, client_obj):
        package = sell_package(client_obj)
        response = trainer_client.post(
            credits_url(package),
            {"form": "adjust", "adjust-delta": "-2", "adjust-reason": "used at the old studio"},
        )
        assert response.status_code == 302
        entry = package.entries.get(kind=Kind.ADJUSTMENT)
        assert (entry.delta, entry.reason, entry.created_by) == (-2, "used at the old studio", trainer)

    def test_taking_more_than_is_left_needs_the_tick(self, trainer_client, client_obj):
        package = sell_package(client_obj, sessions=1)
        data = {"form": "adjust", "adjust-delta": "-2", "adjust-reason": "owed"}
        response = trainer_client.post(credits_url(package), data)
        assert response.status_code == 200
        assert "leaves -1 credits" in str(response.context["adjust"].errors["delta"])
        assert credits.credits_left(package) == 1
        trainer_client.post(credits_url(package), {**data, "adjust-allow_negative": "on"})
        assert credits.credits_left(package) == -1

    def test_staff_charge_an_unpaid_session_and_give_it_back(self, trainer_client, client_obj):
        package = sell_package(client_obj, bought_on=date(2026, 3, 1), sessions=1)
        completed_session(client_obj)
        unpaid = completed_session(client_obj, days_ago=2)
        page = trainer_client.get(credits_url(package))
        assert list(page.context["charge"].fields["session"].queryset) == [unpaid]
        refused = trainer_client.post(credits_url(package), {"form": "charge", "charge-session": unpaid.pk})
        assert "no credits left" in str(refused.context["charge"].non_field_errors())
        trainer_client.post(
            credits_url(package),
            {"form": "charge", "charge-session": unpaid.pk, "charge-allow_negative": "on"},
        )
        assert credits.credits_left(package) == -1
        trainer_client.post(
            credits_url(package),
            {"form": "return", "return-session": unpaid.pk, "return-reason": "trainer ill"},
        )
        assert credits.credits_left(package) == 0
        assert package.entries.get(kind=Kind.RETURN).reason == "trainer ill"


class TestShownToStaffAndClient:
    def test_the_client_page_shows_credits_left_and_expiry(self, trainer_client, client_obj):
        sell_package(client_obj, bought_on=date(2026, 3, 1), sessions=10, validity_days=61)
        completed_session(client_obj)
        html = trainer_client.get(
            reverse("admin:clients_client_change", args=[client_obj.pk])
        ).content.decode()
        assert "9 of 10" in html
        assert "valid until 30 Apr 2026" in html

    def test_the_portal_shows_credits_left_and_the_last_day(self, client, client_obj):
        sell_package(client_obj, bought_on=date(2026, 3, 1), sessions=10, validity_days=61)
        sell_package(client_obj, bought_on=date(2026, 1, 1), validity_days=30)  # expired: not shown
        completed_session(client_obj)
        html = client.get(reverse("portal:home", args=[make_portal_token(client_obj)])).content.decode()
        assert "9 of 10 sessions left" in html
        assert "Use by Thursday 30 April 2026" in html
        assert html.count('id="package-') == 1

    def test_a_shared_package_shows_on_the_partners_portal(self, client, client_obj):
        partner = ClientFactory(trainer=client_obj.trainer)
        credits.package_sell(
            client=client_obj,
            package_type=PackageTypeFactory(shareable=True, sessions=8),
            shared_with=[partner],
        )
        html = client.get(reverse("portal:home", args=[make_portal_token(partner)])).content.decode()
        assert "8 of 8 sessions left" in html
        assert f"shared by {client_obj.first_name}" in html


def test_cancelling_a_packages_payment_keeps_its_credits_and_says_how_to_take_them_back(
    trainer_client, client_obj
):
    # Cancelling the payment is "nothing more is owed" (given away, settled elsewhere), not
    # "the client has no package": the credits stay, and staff are told so.
    package = sell_package(client_obj, sessions=10, name="Ten sessions")
    response = trainer_client.post(
        "/admin/billing/payment/",
        {"action": "cancel_payments", "_selected_action": [package.payment_id]},
        follow=True,
    )
    texts = [str(m) for m in response.context["messages"]]
    assert "1 payment(s) cancelled." in texts
    assert any(
        "its package Ten sessions keeps its 10 credits left: take them back with Adjust credits "
        "on the package if the client is not to use them" in t
        for t in texts
    ), texts
    assert Payment.objects.get(pk=package.payment_id).status == Payment.Status.CANCELLED
    assert credits.credits_left(package) == 10
