"""The credits ledger: selling, spending on completion, returning, adjusting, expiring."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from billing import credits
from billing.models import ClientPackage, CreditEntry, Payment
from billing.policy import Charge
from scheduling import services as sessions
from scheduling.models import Session, SessionType
from tests.factories import ClientFactory, PackageTypeFactory, SessionFactory, sell_package, set_policy

pytestmark = pytest.mark.django_db

Kind = CreditEntry.Kind


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel("2026-03-10 12:00Z", tick=False):
        yield


def sell(client, **kwargs):
    """A package bought on 1 March, before the sessions these tests complete."""
    return sell_package(client, **{"bought_on": date(2026, 3, 1), **kwargs})


def past_session(client, *, days_ago=1, session_type=None):
    return SessionFactory(
        client=client, starts_at=timezone.now() - timedelta(days=days_ago), session_type=session_type
    )


def complete(session):
    return sessions.session_mark_completed(session=Session.objects.get(pk=session.pk))


def left(package):
    return credits.credits_left(package)


class TestSelling:
    def test_selling_creates_the_payment_the_package_and_its_purchase_row(self, client_obj):
        package_type = PackageTypeFactory(
            name="Ten pack", sessions=10, price=Decimal("450.00"), validity_days=30
        )
        package = credits.package_sell(
            client=client_obj, package_type=package_type, due_date=date(2026, 3, 20)
        )
        assert (package.bought_on, package.valid_until) == (date(2026, 3, 10), date(2026, 4, 8))
        assert package.payment.amount == Decimal("450.00")
        assert package.payment.due_date == date(2026, 3, 20)
        assert package.payment.status == Payment.Status.PENDING
        assert package.payment.description == "Package: Ten pack (10 sessions)"
        assert list(package.entries.values_list("kind", "delta")) == [(Kind.PURCHASE, 10)]
        assert left(package) == 10

    def test_due_now_by_default_and_never_expiring_without_validity(self, client_obj):
        package = sell_package(client_obj, validity_days=None)
        assert package.payment.due_date == date(2026, 3, 10)
        assert package.valid_until is None

    def test_a_type_taken_off_sale_cannot_be_sold(self, client_obj):
        with pytest.raises(ValidationError, match="no longer on sale"):
            credits.package_sell(client=client_obj, package_type=PackageTypeFactory(is_active=False))
        assert not ClientPackage.objects.exists() and not Payment.objects.exists()

    def test_only_a_shareable_type_is_shared(self, client_obj):
        partner = ClientFactory(trainer=client_obj.trainer)
        with pytest.raises(ValidationError, match="cannot be shared"):
            credits.package_sell(client=client_obj, package_type=PackageTypeFactory(), shared_with=[partner])
        assert not Payment.objects.exists()


class TestSpendingOnCompletion:
    def test_completing_a_session_spends_one_credit_with_the_session(self, client_obj):
        package = sell(client_obj, sessions=3)
        session = past_session(client_obj)
        complete(session)
        spend = CreditEntry.objects.get(kind=Kind.SPEND)
        assert (spend.package, spend.session, spend.delta, spend.reason) == (
            package,
            session,
            -1,
            credits.Reason.COMPLETED,
        )
        assert left(package) == 2

    def test_the_oldest_valid_package_pays_first(self, client_obj):
        newer = sell(client_obj, bought_on=date(2026, 3, 1))
        older = sell(client_obj, bought_on=date(2026, 2, 1))
        complete(past_session(client_obj))
        assert (left(older), left(newer)) == (4, 5)

    def test_a_package_not_valid_on_the_session_date_is_passed_over(self, client_obj):
        expired = sell(client_obj, bought_on=date(2026, 1, 1), validity_days=30)  # last day 30 Jan
        later = sell(client_obj, bought_on=date(2026, 3, 9))  # bought after the session
        valid = sell(client_obj, bought_on=date(2026, 2, 1))
        complete(past_session(client_obj, days_ago=2))  # 8 March
        assert (left(expired), left(later), left(valid)) == (5, 5, 4)

    def test_the_package_must_cover_the_session_type(self, client_obj):
        pt, yoga = SessionType.objects.create(name="PT"), SessionType.objects.create(name="Yoga")
        yoga_only = sell(client_obj, bought_on=date(2026, 2, 1))
        yoga_only.package_type.session_types.set([yoga])
        any_type = sell(client_obj, bought_on=date(2026, 3, 1))
        complete(past_session(client_obj, session_type=pt))
        complete(past_session(client_obj, days_ago=2, session_type=yoga))
        complete(past_session(client_obj, days_ago=3))  # untyped: only an all-types package covers it
        assert (left(yoga_only), left(any_type)) == (4, 3)

    def test_with_no_credit_left_nothing_is_spent_and_never_below_zero(self, client_obj):
        package = sell(client_obj, sessions=1)
        complete(past_session(client_obj))
        second = past_session(client_obj, days_ago=2)
        complete(second)
        assert left(package) == 0
        assert credits.open_spend(second) is None
        assert Session.objects.get(pk=second.pk).status == Session.Status.COMPLETED

    def test_a_client_without_packages_completes_sessions_as_before(self, client_obj):
        session = past_session(client_obj)
        complete(session)
        assert not CreditEntry.objects.exists()

    def test_a_shared_package_pays_for_the_named_client_only(self, client_obj):
        partner, stranger = (
            ClientFactory(trainer=client_obj.trainer),
            ClientFactory(trainer=client_obj.trainer),
        )
        package = credits.package_sell(
            client=client_obj,
            package_type=PackageTypeFactory(shareable=True),
            shared_with=[partner],
            bought_on=date(2026, 3, 1),
        )
        complete(past_session(partner))
        complete(past_session(stranger))
        assert left(package) == 4
        assert CreditEntry.objects.get(kind=Kind.SPEND).session.client == partner

    def test_no_show_after_completion_keeps_the_credit_and_completing_again_spends_nothing_more(
        self, client_obj
    ):
        # The no-show policy decides whether it comes back: here a no-show costs a credit
        # (tests/billing/test_policy.py has the others).
        set_policy(no_show_charge=Charge.CREDIT)
        package = sell(client_obj)
        session = past_session(client_obj)
        complete(session)
        sessions.session_mark_no_show(session=Session.objects.get(pk=session.pk))
        assert left(package) == 4
        complete(session)
        assert left(package) == 4
        assert CreditEntry.objects.filter(kind=Kind.SPEND).count() == 1

    def test_a_failed_status_change_rolls_the_spend_back(self, client_obj):
        package = sell(client_obj)
        future = SessionFactory(client=client_obj, starts_at=timezone.now() + timedelta(hours=2))
        with pytest.raises(ValidationError, match="has not started"):
            complete(future)
        assert left(package) == 5


class TestReturning:
    def test_cancelling_in_time_returns_a_spent_credit(self, client_obj, settings):
        settings.CANCELLATION_NOTICE_HOURS = 24
        package = sell(client_obj)
        session = SessionFactory(client=client_obj, starts_at=timezone.now() + timedelta(days=3))
        credits.credit_spend(session=session, reason="booked on credit")  # e.g. charged up front by staff
        sessions.session_cancel(session=Session.objects.get(pk=session.pk))
        assert left(package) == 5
        ret = CreditEntry.objects.get(kind=Kind.RETURN)
        assert (ret.session, ret.reverses.kind, ret.reason) == (
            session,
            Kind.SPEND,
            credits.Reason.CANCELLED_IN_TIME,
        )

    def test_a_late_cancel_is_left_to_the_policy(self, client_obj, settings):
        settings.CANCELLATION_NOTICE_HOURS = 24
        package = sell(client_obj)
        session = SessionFactory(client=client_obj, starts_at=timezone.now() + timedelta(hours=3))
        credits.credit_spend(session=session, reason="booked on credit")
        sessions.session_cancel(session=Session.objects.get(pk=session.pk))
        assert left(package) == 4

    def test_a_returned_credit_can_be_spent_again_once(self, client_obj):
        package = sell(client_obj)
        session = past_session(client_obj)
        complete(session)
        assert credits.credit_return(session=session, reason="waived").delta == 1
        assert credits.credit_return(session=session, reason="again") is None
        assert credits.credit_spend(session=session, reason=credits.Reason.COMPLETED) is not None
        assert credits.credit_spend(session=session, reason=credits.Reason.COMPLETED) is None
        assert left(package) == 4
        assert list(package.entries.values_list("kind", "delta")) == [
            (Kind.PURCHASE, 5),
            (Kind.SPEND, -1),
            (Kind.RETURN, 1),
            (Kind.SPEND, -1),
        ]

    def test_the_database_refuses_a_second_open_spend_for_one_session(self, client_obj):
        package = sell(client_obj)
        session = past_session(client_obj)
        CreditEntry.objects.create(package=package, kind=Kind.SPEND, delta=-1, session=session)
        with pytest.raises(IntegrityError), transaction.atomic():
            CreditEntry.objects.create(package=package, kind=Kind.SPEND, delta=-1, session=session)


class TestStaff:
    def test_an_adjustment_records_who_and_why(self, client_obj, trainer):
        package = sell(client_obj)
        entry = credits.credit_adjust(
            package=package, delta=2, reason="goodwill: trainer was late", by=trainer
        )
        assert (entry.kind, entry.delta, entry.created_by, entry.reason) == (
            Kind.ADJUSTMENT,
            2,
            trainer,
            "goodwill: trainer was late",
        )
        assert left(package) == 7

    @pytest.mark.parametrize(
        ("delta", "reason", "message"),
        [
            (1, "  ", "Say why"),
            (0, "x", "at least one"),
            (-6, "x", "leaves -1 credits"),
            (5000, "x", "at most"),
        ],
    )
    def test_bad_adjustments_are_refused_and_change_nothing(
        self, client_obj, trainer, delta, reason, message
    ):
        package = sell(client_obj)
        with pytest.raises(ValidationError, match=message):
            credits.credit_adjust(package=package, delta=delta, reason=reason, by=trainer)
        assert left(package) == 5

    def test_going_below_zero_only_when_staff_say_so(self, client_obj, trainer):
        package = sell(client_obj, sessions=1)
        complete(past_session(client_obj))
        unpaid = past_session(client_obj, days_ago=2)
        complete(unpaid)
        with pytest.raises(ValidationError, match="no credits left"):
            credits.credit_spend(session=unpaid, reason="charged by hand", package=package, by=trainer)
        entry = credits.credit_spend(
            session=unpaid, reason="charged by hand", package=package, allow_negative=True, by=trainer
        )
        assert (entry.created_by, left(package)) == (trainer, -1)

    def test_a_package_of_another_client_cannot_pay(self, client_obj):
        package = sell(ClientFactory(trainer=client_obj.trainer))
        with pytest.raises(ValidationError, match="not the session's client's"):
            credits.credit_spend(session=past_session(client_obj), reason="x", package=package)


class TestExpiry:
    def test_what_is_left_expires_the_day_after_the_last_day_once(self, client_obj):
        package = sell(client_obj, bought_on=date(2026, 2, 1), validity_days=30)  # last day 2 March
        complete(past_session(client_obj, days_ago=9))  # 1 March
        untouched = sell(client_obj, validity_days=None)
        assert credits.packages_expire(today=date(2026, 3, 2)) == 0
        assert credits.packages_expire(today=date(2026, 3, 3)) == 1
        assert credits.packages_expire(today=date(2026, 3, 4)) == 0
        expiry = package.entries.get(kind=Kind.EXPIRY)
        assert (expiry.delta, left(package), left(untouched)) == (-4, 0, 5)

    def test_the_task_expires_by_the_studio_calendar(self, client_obj):
        from billing.tasks import expire_packages

        sell(client_obj, bought_on=date(2026, 3, 1), validity_days=9)  # last day 9 March
        assert expire_packages() == 1


class TestSummary:
    def test_the_client_summary_lists_usable_packages_with_credits_left(self, client_obj):
        old = sell(client_obj, bought_on=date(2026, 1, 1), validity_days=30)
        current = sell(client_obj, bought_on=date(2026, 3, 1), sessions=8)
        complete(past_session(client_obj))
        summary = credits.client_credit_summary(client_obj)
        assert [(p.pk, p.credits_left) for p in summary] == [(current.pk, 7)]
        assert old not in summary
