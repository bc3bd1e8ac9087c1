"""Trainers see their own book: no list, page, form, dropdown or autocomplete shows another's.

Managers (and superusers) see the whole studio.
"""

from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.utils import timezone

from billing.models import Payment
from clients.models import Client
from common.clock import studio_today
from scheduling.models import Session
from tests.factories import ClientFactory, PaymentFactory, SessionFactory, UserFactory
from tests.support.admin_forms import submit

pytestmark = pytest.mark.django_db


@dataclass
class Book:
    client: Client
    session: Session
    payment: Payment


def make_book(trainer, name):
    client = ClientFactory(trainer=trainer, first_name=name, last_name="Zed")
    session = SessionFactory(client=client, location=f"{name}-room")
    payment = PaymentFactory(client=client, description=f"{name}-pack", session=session)
    return Book(client, session, payment)


@pytest.fixture
def mine(trainer):
    return make_book(trainer, "Mymine")


@pytest.fixture
def theirs(other_trainer):
    return make_book(other_trainer, "Theirsy")


def url(obj, view="change"):
    opts = obj._meta
    return f"/admin/{opts.app_label}/{opts.model_name}/{obj.pk}/{view}/"


def object_urls(book):
    return [book.client, book.session, book.payment]


class TestTrainerCannotReachAnotherTrainersBook:
    @pytest.mark.parametrize("kind", ["client", "session", "payment"])
    def test_changelist_shows_only_their_own(self, trainer_client, mine, theirs, kind):
        obj = getattr(mine, kind)
        response = trainer_client.get(f"/admin/{obj._meta.app_label}/{obj._meta.model_name}/")
        assert response.status_code == 200
        assert list(response.context["cl"].result_list) == [obj]
        assert "Theirsy" not in response.content.decode()

    @pytest.mark.parametrize("kind", ["client", "session", "payment"])
    def test_changelist_filters_and_search_cannot_widen_the_scope(
        self, trainer_client, other_trainer, mine, theirs, kind
    ):
        obj = getattr(theirs, kind)
        base = f"/admin/{obj._meta.app_label}/{obj._meta.model_name}/"
        owner = "trainer" if kind == "client" else "client__trainer"
        for query in [
            "?q=Theirsy",
            f"?{owner}__id__exact={other_trainer.pk}",
            f"?{owner}={other_trainer.pk}",
            "?all=",
        ]:
            response = trainer_client.get(base + query)
            # 400: a lookup the admin does not offer this user.
            assert response.status_code in (200, 302, 400)
            if response.status_code == 200:
                assert obj not in response.context["cl"].result_list
                assert "Theirsy Zed" not in response.content.decode()

    @pytest.mark.parametrize("view", ["change", "history"])
    @pytest.mark.parametrize("kind", ["client", "session", "payment"])
    def test_object_pages_answer_not_found_without_data(self, trainer_client, theirs, kind, view):
        obj = getattr(theirs, kind)
        response = trainer_client.get(url(obj, view), follow=True)
        assert response.redirect_chain[0][1] == 302
        assert response.redirect_chain[-1][0] == "/admin/"
        body = response.content.decode()
        assert "doesn’t exist" in body
        assert "Theirsy" not in body

    @pytest.mark.parametrize("kind", ["client", "session", "payment"])
    def test_delete_is_refused(self, trainer_client, theirs, kind):
        obj = getattr(theirs, kind)
        assert trainer_client.get(url(obj, "delete")).status_code in (302, 403, 404)
        response = trainer_client.post(url(obj, "delete"), {"post": "yes"})
        assert response.status_code in (302, 403, 404)
        assert type(obj).objects.filter(pk=obj.pk).exists()

    def test_bulk_delete_action_is_not_offered_and_cannot_be_forced(self, trainer_client, mine, theirs):
        response = trainer_client.post(
            "/admin/clients/client/",
            {
                "action": "delete_selected",
                "_selected_action": [theirs.client.pk, mine.client.pk],
                "post": "yes",
            },
        )
        assert response.status_code in (200, 302)
        assert Client.objects.count() == 2

    def test_editing_by_post_changes_nothing(self, trainer_client, theirs):
        response = trainer_client.post(
            url(theirs.client), {"first_name": "Hijacked", "last_name": "", "status": "active"}
        )
        assert response.status_code == 302
        theirs.client.refresh_from_db()
        assert theirs.client.first_name == "Theirsy"

    def test_bulk_actions_skip_other_trainers_rows(self, trainer_client, mine, theirs):
        trainer_client.post(
            "/admin/billing/payment/",
            {
                "action": "mark_paid",
                "_selected_action": [mine.payment.pk, theirs.payment.pk],
                # The intermediate page's answers: when and how.
                "apply": "1",
                "received_on": studio_today().isoformat(),
                "method": "cash",
            },
        )
        trainer_client.post(
            "/admin/scheduling/session/",
            {"action": "cancel_sessions", "_selected_action": [mine.session.pk, theirs.session.pk]},
        )
        theirs.payment.refresh_from_db()
        theirs.session.refresh_from_db()
        mine.payment.refresh_from_db()
        assert (mine.payment.status, theirs.payment.status) == ("paid", "pending")
        assert theirs.session.status == "scheduled"


class TestPickers:
    @pytest.mark.parametrize(
        ("app_label", "model_name", "field_name", "expected"),
        [
            ("scheduling", "session", "client", "client"),
            ("billing", "payment", "client", "client"),
            ("billing", "payment", "session", "session"),
        ],
    )
    def test_autocomplete_offers_only_their_own(
        self, trainer_client, mine, theirs, app_label, model_name, field_name, expected
    ):
        response = trainer_client.get(
            "/admin/autocomplete/",
            {"app_label": app_label, "model_name": model_name, "field_name": field_name, "term": ""},
        )
        assert response.status_code == 200
        ids = [r["id"] for r in response.json()["results"]]
        assert ids == [str(getattr(mine, expected).pk)]

    def test_autocomplete_search_for_another_trainers_client_finds_nothing(self, trainer_client, theirs):
        response = trainer_client.get(
            "/admin/autocomplete/",
            {"app_label": "billing", "model_name": "payment", "field_name": "client", "term": "Theirsy"},
        )
        assert response.json()["results"] == []

    @pytest.mark.parametrize(
        "params",
        [
            {"app_label": "clients", "model_name": "client", "field_name": "trainer"},
            {"app_label": "auth", "model_name": "user", "field_name": "groups"},
            {"app_label": "nope", "model_name": "nope", "field_name": "nope"},
            {},
        ],
    )
    def test_autocomplete_for_fields_that_are_not_autocompletes_is_refused(self, trainer_client, params):
        assert trainer_client.get("/admin/autocomplete/", params).status_code == 403

    def test_session_add_form_dropdowns_show_only_their_own(self, trainer_client, trainer, mine, theirs):
        form = trainer_client.get("/admin/scheduling/session/add/").context["adminform"].form
        assert list(form.fields["client"].queryset) == [mine.client]
        assert list(form.fields["trainer"].queryset) == [trainer]

    def test_payment_add_form_dropdowns_show_only_their_own(self, trainer_client, mine, theirs):
        form = trainer_client.get("/admin/billing/payment/add/").context["adminform"].form
        assert list(form.fields["client"].queryset) == [mine.client]
        assert list(form.fields["session"].queryset) == [mine.session]

    def test_series_form_dropdowns_show_only_their_own(self, trainer_client, trainer, mine, theirs):
        form = trainer_client.get("/admin/scheduling/session/book-series/").context["form"]
        assert list(form.fields["client"].queryset) == [mine.client]
        assert list(form.fields["trainer"].queryset) == [trainer]

    def test_posting_another_trainers_client_on_a_session_is_a_form_error(
        self, trainer_client, trainer, theirs
    ):
        response = trainer_client.post(
            "/admin/scheduling/session/add/",
            {
                "client": theirs.client.pk,
                "trainer": trainer.pk,
                "starts_at_0": "2027-01-11",
                "starts_at_1": "09:00",
                "duration_minutes": "60",
                "status": "scheduled",
            },
        )
        assert response.status_code == 200
        assert "Select a valid choice" in response.context["adminform"].form.errors["client"][0]
        assert Session.objects.count() == 1

    def test_posting_another_trainer_on_a_session_is_a_form_error(self, trainer_client, other_trainer, mine):
        response = trainer_client.post(
            "/admin/scheduling/session/add/",
            {
                "client": mine.client.pk,
                "trainer": other_trainer.pk,
                "starts_at_0": "2027-01-11",
                "starts_at_1": "09:00",
                "duration_minutes": "60",
                "status": "scheduled",
            },
        )
        assert "Select a valid choice" in response.context["adminform"].form.errors["trainer"][0]

    @pytest.mark.parametrize("field", ["client", "session"])
    def test_posting_another_trainers_client_or_session_on_a_payment_is_a_form_error(
        self, trainer_client, mine, theirs, field
    ):
        data = {
            "client": mine.client.pk,
            "session": "",
            "amount": "30",
            "due_date": (timezone.localdate() + timedelta(days=3)).isoformat(),
        }
        data[field] = getattr(theirs, field).pk
        response = trainer_client.post("/admin/billing/payment/add/", data)
        assert response.status_code == 200
        assert "Select a valid choice" in response.context["adminform"].form.errors[field][0]
        assert Payment.objects.count() == 2

    def test_payment_cannot_be_moved_to_another_trainers_client(self, trainer_client, mine, theirs):
        response = trainer_client.post(
            url(mine.payment),
            {"client": theirs.client.pk, "amount": "30", "due_date": mine.payment.due_date.isoformat()},
        )
        assert response.status_code == 200
        mine.payment.refresh_from_db()
        assert mine.payment.client == mine.client


class TestClientOwnership:
    def test_a_trainers_new_client_is_theirs_whatever_the_form_says(
        self, trainer_client, trainer, other_trainer
    ):
        response = submit(
            trainer_client, "/admin/clients/client/add/", first_name="Newt", trainer=other_trainer.pk
        )
        assert response.status_code == 302
        assert Client.objects.get(first_name="Newt").trainer == trainer

    def test_a_trainer_cannot_reassign_their_client(self, trainer_client, trainer, other_trainer, mine):
        response = submit(trainer_client, url(mine.client), first_name="Newt", trainer=other_trainer.pk)
        assert response.status_code == 302
        mine.client.refresh_from_db()
        assert mine.client.trainer == trainer
        assert mine.client.first_name == "Newt"

    def test_the_trainer_field_is_shown_read_only_to_a_trainer(self, trainer_client, mine):
        form = trainer_client.get(url(mine.client)).context["adminform"].form
        assert "trainer" not in form.fields

    def test_a_manager_can_reassign_a_client(self, manager_client, other_trainer, mine):
        response = submit(manager_client, url(mine.client), trainer=other_trainer.pk)
        assert response.status_code == 302
        mine.client.refresh_from_db()
        assert mine.client.trainer == other_trainer


@pytest.fixture(params=["manager", "superuser"])
def boss_client(request, client, db):
    if request.param == "manager":
        user = request.getfixturevalue("manager")
    else:
        user = UserFactory(username="root", is_superuser=True)
    client.force_login(user)
    return client


class TestManagersSeeEverything:
    @pytest.mark.parametrize("kind", ["client", "session", "payment"])
    def test_lists_and_pages(self, boss_client, mine, theirs, kind):
        obj = getattr(theirs, kind)
        response = boss_client.get(f"/admin/{obj._meta.app_label}/{obj._meta.model_name}/")
        assert set(response.context["cl"].result_list) == {getattr(mine, kind), obj}
        assert boss_client.get(url(obj)).status_code == 200

    def test_autocomplete_and_dropdowns(self, boss_client, trainer, other_trainer, mine, theirs):
        response = boss_client.get(
            "/admin/autocomplete/",
            {"app_label": "billing", "model_name": "payment", "field_name": "client", "term": "Zed"},
        )
        assert len(response.json()["results"]) == 2
        form = boss_client.get("/admin/scheduling/session/add/").context["adminform"].form
        assert {trainer, other_trainer} <= set(form.fields["trainer"].queryset)
        assert set(form.fields["client"].queryset) == {mine.client, theirs.client}
