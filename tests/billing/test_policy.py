"""The no-show and late-cancel policy: each outcome, the grace count, once per session, waive, correction."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.core.exceptions import ValidationError

from billing import charges, credits
from billing import services as billing
from billing.models import CreditEntry, Payment
from billing.policy import Charge, SessionCharge, StudioPolicy
from scheduling import services as scheduling
from scheduling.models import Session
from tests.factories import (
    ClientFactory,
    SessionFactory,
    SessionTypeFactory,
    TrainerFactory,
    sell_package,
    set_policy,
)
from tests.support.clock import utc
from tests.support.races import race
from tests.support.threads import run_in_threads

pytestmark = pytest.mark.django_db

NOW = utc(2026, 11, 25, 10, 0)
Outcome = SessionCharge.Outcome


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def started(client, *, hours_ago=1, **fields):
    return SessionFactory(client=client, starts_at=NOW - timedelta(hours=hours_ago), **fields)


def no_show(session):
    return scheduling.session_mark_no_show(session=Session.objects.get(pk=session.pk))


# --- The settings -----------------------------------------------------------------------------


def test_until_first_saved_the_policy_is_the_settings_defaults_and_reading_it_writes_nothing(settings):
    settings.CANCELLATION_NOTICE_HOURS = 48
    settings.CANCELLATION_POLICY_TEXT = "Call 020 7946 0000."
    policy = charges.studio_policy()
    assert (policy.pk, policy.late_cancel_window_hours) == (1, 48)
    assert (policy.late_cancel_charge, policy.no_show_charge, policy.grace_count) == ("nothing",) * 2 + (0,)
    assert charges.policy_text(policy) == (
        "Sessions can be cancelled free of charge up to 48 hours before they start. "
        "For later changes, please contact the studio. Call 020 7946 0000."
    )
    assert not StudioPolicy.objects.exists()
    policy.save()
    assert charges.studio_policy().pk == 1 and StudioPolicy.objects.count() == 1


def test_the_policy_text_says_what_each_incident_costs_and_what_is_free():
    policy = set_policy(
        late_cancel_window_hours=12,
        clients_may_cancel_late=True,
        late_cancel_charge=Charge.FEE_FIXED,
        late_cancel_fee=Decimal("7.5"),
        no_show_charge=Charge.FEE_FIXED,
        no_show_fee=Decimal("20"),
        grace_count=1,
        grace_days=90,
    )
    assert charges.policy_text(policy) == (
        "Sessions can be cancelled free of charge up to 12 hours before they start. "
        "A later cancellation costs £7.50. A missed session costs £20.00. "
        "Your first late cancellation or missed session in any 90 days is free."
    )
    policy = set_policy(
        late_cancel_charge=Charge.NOTHING,
        no_show_charge=Charge.FEE_PERCENT,
        no_show_percent=50,
        grace_count=2,
    )
    assert charges.policy_text(policy) == (
        "Sessions can be cancelled free of charge up to 12 hours before they start. "
        "A missed session costs 50% of the session's price. "
        "Your first 2 missed sessions in any 90 days are free."
    )


def test_a_fee_charge_without_its_amount_is_refused_with_a_clear_error():
    policy = charges.studio_policy()
    policy.no_show_charge = Charge.FEE_FIXED
    policy.late_cancel_charge = Charge.FEE_PERCENT
    with pytest.raises(ValidationError) as exc:
        policy.full_clean()
    assert exc.value.message_dict == {
        "no_show_fee": ["Enter the fee, or choose another charge."],
        "late_cancel_percent": ["Enter the percentage, or choose another charge."],
    }


# --- Each outcome -----------------------------------------------------------------------------


def test_a_no_show_under_a_free_policy_is_recorded_and_costs_nothing(client_obj):
    session = started(client_obj)
    no_show(session)
    charge = SessionCharge.objects.get()
    assert (charge.session, charge.client, charge.kind, charge.outcome) == (
        session,
        client_obj,
        "no_show",
        Outcome.NOTHING,
    )
    assert charge.fee_payment is None
    assert charge.note == "The policy charges nothing for a no-show."
    assert not Payment.objects.exists()


def test_a_fixed_no_show_fee_is_a_payment_for_the_session_due_as_the_policy_says(client_obj):
    set_policy(no_show_charge=Charge.FEE_FIXED, no_show_fee=Decimal("20.00"), fee_due_days=3)
    session = started(client_obj, session_type=SessionTypeFactory(name="Strength"))
    no_show(session)
    charge = SessionCharge.objects.select_related("fee_payment").get()
    fee = charge.fee_payment
    assert charge.outcome == Outcome.FEE
    assert (fee.client, fee.session, fee.amount, fee.status) == (
        client_obj,
        session,
        Decimal("20.00"),
        "pending",
    )
    assert fee.due_date == date(2026, 11, 28)
    # The studio's clock (Europe/London by default in the tests).
    assert fee.description == "No-show fee: session on Wed 25 Nov 2026 09:00 (Strength)"


@pytest.mark.parametrize(
    ("percent", "price", "fee"),
    [(50, "45.00", "22.50"), (33, "45.00", "14.85"), (15, "33.30", "5.00"), (100, "60.00", "60.00")],
)
def test_a_percentage_fee_is_taken_from_the_session_types_price_rounded_half_up(
    client_obj, percent, price, fee
):
    set_policy(no_show_charge=Charge.FEE_PERCENT, no_show_percent=percent)
    session = started(client_obj, session_type=SessionTypeFactory(price=Decimal(price)))
    no_show(session)
    charge = SessionCharge.objects.get()
    assert charge.fee_payment.amount == Decimal(fee)
    assert charge.note == f"{percent}% of the session's price (£{price})."


@pytest.mark.parametrize("session_type", [None, "without price"])
def test_a_percentage_fee_on_a_session_without_a_price_charges_nothing_and_says_why(client_obj, session_type):
    set_policy(no_show_charge=Charge.FEE_PERCENT, no_show_percent=50)
    kind = SessionTypeFactory(price=None) if session_type else None
    no_show(started(client_obj, session_type=kind))
    charge = SessionCharge.objects.get()
    assert (charge.outcome, charge.fee_payment) == (Outcome.NOTHING, None)
    assert charge.note == (
        "No fee: 50% of the price was due, but the session has no price (no session type, or its type has none)."
    )
    assert not Payment.objects.exists()


def credits_of(client) -> int:
    return sum(p.credits_left for p in credits.client_credit_summary(client))


def test_a_no_show_under_a_credit_policy_spends_one_credit_with_its_reason(client_obj):
    set_policy(no_show_charge=Charge.CREDIT)
    sell_package(client_obj, sessions=5)
    session = started(client_obj)
    no_show(session)
    charge = SessionCharge.objects.select_related("credit_entry").get()
    assert (charge.outcome, charge.credit_entry.delta, charge.credit_entry.reason) == (
        Outcome.CREDIT,
        -1,
        "no-show",
    )
    assert charge.credit_entry.session == session
    assert credits_of(client_obj) == 4


def test_a_credit_policy_without_a_credit_left_charges_nothing_and_says_why(client_obj):
    set_policy(no_show_charge=Charge.CREDIT, late_cancel_charge=Charge.CREDIT)
    no_show(started(client_obj))
    charge = SessionCharge.objects.get()
    assert (charge.outcome, charge.credit_entry) == (Outcome.NOTHING, None)
    assert charge.note == "No credit used: the client has no credit left that covers this session."


def test_a_late_cancel_under_a_credit_policy_spends_a_credit(client_obj):
    set_policy(late_cancel_charge=Charge.CREDIT)
    sell_package(client_obj, sessions=3)
    session = SessionFactory(client=client_obj, starts_at=NOW + timedelta(hours=2))
    scheduling.session_cancel(session=session, by=Session.CancelledBy.CLIENT)
    charge = SessionCharge.objects.get()
    assert (charge.kind, charge.outcome, charge.credit_entry.reason) == (
        "late_cancel",
        "credit",
        "late cancellation",
    )
    assert credits_of(client_obj) == 2


def test_a_completed_session_marked_no_show_keeps_its_credit_under_a_credit_policy(client_obj):
    set_policy(no_show_charge=Charge.CREDIT)
    sell_package(client_obj, sessions=5)
    session = started(client_obj)
    scheduling.session_mark_completed(session=session)
    no_show(session)
    charge = SessionCharge.objects.get()
    assert charge.outcome == Outcome.CREDIT and charge.credit_entry.reason == "session completed"
    assert credits_of(client_obj) == 4  # one credit, not two


def test_a_completed_session_marked_no_show_gets_its_credit_back_under_a_fee_policy(client_obj):
    set_policy(no_show_charge=Charge.FEE_FIXED, no_show_fee=Decimal("20"))
    sell_package(client_obj, sessions=5)
    session = started(client_obj)
    scheduling.session_mark_completed(session=session)
    assert credits_of(client_obj) == 4
    no_show(session)
    assert SessionCharge.objects.get().outcome == Outcome.FEE
    assert credits_of(client_obj) == 5


def test_waiving_a_credit_charge_gives_the_credit_back(client_obj, trainer):
    set_policy(no_show_charge=Charge.CREDIT)
    sell_package(client_obj, sessions=5)
    no_show(started(client_obj))
    charge = SessionCharge.objects.get()
    charges.charge_waive(charge=charge, by=trainer, reason="Family emergency")
    assert credits_of(client_obj) == 5
    assert CreditEntry.objects.filter(kind="return").get().reason == "no-show waived"


def test_a_credit_no_show_corrected_to_completed_keeps_one_credit_spent_for_the_session(client_obj):
    set_policy(no_show_charge=Charge.CREDIT)
    sell_package(client_obj, sessions=5)
    session = started(client_obj)
    no_show(session)
    scheduling.session_mark_completed(session=Session.objects.get(pk=session.pk))
    assert SessionCharge.objects.get().corrected
    assert credits_of(client_obj) == 4
    assert CreditEntry.objects.filter(session=session, kind="spend", returned=False).count() == 1


# --- The grace count --------------------------------------------------------------------------


def test_the_first_incidents_inside_the_grace_period_are_free_and_the_next_is_charged(client_obj, frozen):
    set_policy(no_show_charge=Charge.FEE_FIXED, no_show_fee=Decimal("20"), grace_count=2, grace_days=90)
    first, second, third = (started(client_obj, hours_ago=h) for h in (3, 2, 1))
    no_show(first)
    no_show(second)
    no_show(third)
    outcomes = dict(SessionCharge.objects.values_list("session_id", "outcome"))
    assert outcomes == {first.pk: Outcome.FREE, second.pk: Outcome.FREE, third.pk: Outcome.FEE}
    assert SessionCharge.objects.get(session=second).note == (
        "Free: the client's second late cancellation or no-show in 90 days (2 free)."
    )


@pytest.mark.parametrize(
    ("days_later", "outcome"),
    [(89, Outcome.FEE), (90, Outcome.FREE), (91, Outcome.FREE)],
)
def test_an_incident_older_than_the_grace_period_no_longer_counts(client_obj, frozen, days_later, outcome):
    set_policy(no_show_charge=Charge.FEE_FIXED, no_show_fee=Decimal("20"), grace_count=1, grace_days=90)
    no_show(started(client_obj))
    frozen.shift(timedelta(days=days_later))
    later = SessionFactory(client=client_obj, starts_at=NOW + timedelta(days=days_later, hours=-1))
    no_show(later)
    assert SessionCharge.objects.get(session=later).outcome == outcome


def test_grace_is_per_client_and_counts_late_cancels_and_no_shows_together(client_obj, trainer):
    set_policy(
        no_show_charge=Charge.FEE_FIXED,
        no_show_fee=Decimal("20"),
        late_cancel_charge=Charge.FEE_FIXED,
        late_cancel_fee=Decimal("10"),
        grace_count=1,
    )
    late = SessionFactory(client=client_obj, starts_at=NOW + timedelta(hours=2))
    scheduling.session_cancel(session=late, by=Session.CancelledBy.CLIENT)
    no_show(started(client_obj))
    no_show(started(ClientFactory(trainer=trainer)))
    assert list(SessionCharge.objects.order_by("pk").values_list("kind", "outcome")) == [
        ("late_cancel", Outcome.FREE),
        ("no_show", Outcome.FEE),
        ("no_show", Outcome.FREE),  # another client's first
    ]


# --- Late cancellations -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("before_start", "late"),
    [
        (timedelta(hours=24, seconds=1), False),
        (timedelta(hours=24), True),  # the deadline itself is inside the window
        (timedelta(hours=23, minutes=59), True),
    ],
)
def test_a_client_cancellation_is_late_from_the_windows_edge_on(client_obj, before_start, late):
    set_policy(
        late_cancel_window_hours=24, late_cancel_charge=Charge.FEE_FIXED, late_cancel_fee=Decimal("15")
    )
    session = SessionFactory(client=client_obj, starts_at=NOW + before_start)
    scheduling.session_cancel(session=session, by=Session.CancelledBy.CLIENT)
    charge = SessionCharge.objects.filter(session=session).first()
    if late:
        assert (charge.kind, charge.outcome, charge.fee_payment.amount) == (
            "late_cancel",
            "fee",
            Decimal("15.00"),
        )
        assert charge.fee_payment.description.startswith("Late-cancellation fee: session on ")
    else:
        assert charge is None and not Payment.objects.exists()


def test_a_staff_cancellation_inside_the_window_is_free_unless_recorded_as_the_clients(client_obj):
    set_policy(late_cancel_charge=Charge.FEE_FIXED, late_cancel_fee=Decimal("15"))
    studio_called_off = SessionFactory(client=client_obj, starts_at=NOW + timedelta(hours=2))
    scheduling.session_cancel(session=studio_called_off)
    assert not SessionCharge.objects.exists()
    client_phoned = SessionFactory(client=client_obj, starts_at=NOW + timedelta(hours=3))
    scheduling.session_cancel(session=client_phoned, by=Session.CancelledBy.CLIENT)
    assert SessionCharge.objects.get().session == client_phoned


# --- Once per session -------------------------------------------------------------------------


def test_the_policy_applies_once_however_often_it_is_asked(client_obj):
    set_policy(no_show_charge=Charge.FEE_FIXED, no_show_fee=Decimal("20"))
    session = started(client_obj)
    no_show(session)
    first = SessionCharge.objects.get()
    again = charges.policy_apply(session=session, kind=SessionCharge.Kind.NO_SHOW)
    assert again == first
    with pytest.raises(ValidationError, match="A no-show session cannot be marked no-show."):
        no_show(session)
    assert SessionCharge.objects.count() == Payment.objects.count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_workers_marking_the_same_no_show_create_one_charge_and_one_fee(monkeypatch):
    set_policy(no_show_charge=Charge.FEE_FIXED, no_show_fee=Decimal("20"))
    session = started(ClientFactory(trainer=TrainerFactory(username="t1")))
    outcomes = race(
        monkeypatch,
        scheduling,
        {
            "one": lambda: no_show(session),
            "two": lambda: no_show(session),
        },
    )
    assert sorted(outcomes.values()) == ["A no-show session cannot be marked no-show.", "done"]
    assert SessionCharge.objects.count() == 1
    assert Payment.objects.get().amount == Decimal("20.00")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_no_shows_of_one_client_at_once_do_not_both_take_the_last_free_one():
    set_policy(no_show_charge=Charge.FEE_FIXED, no_show_fee=Decimal("20"), grace_count=1)
    client = ClientFactory(trainer=TrainerFactory(username="t2"))
    sessions = iter([started(client, hours_ago=2), started(client, hours_ago=1)])
    run_in_threads(lambda: no_show(next(sessions)), count=2)
    assert sorted(SessionCharge.objects.values_list("outcome", flat=True)) == [Outcome.FEE, Outcome.FREE]


# --- Waiving and correcting -------------------------------------------------------------------


@pytest.fixture
def fee_charge(client_obj):
    set_policy(no_show_charge=Charge.FEE_FIXED, no_show_fee=Decimal("20"))
    no_show(started(client_obj))
    return SessionCharge.objects.select_related("fee_payment").get()


def test_waiving_cancels_the_unpaid_fee_and_records_who_and_why(fee_charge, trainer):
    result = charges.charge_waive(charge=fee_charge, by=trainer, reason="  Was ill,\n sent a note ")
    fee_charge.refresh_from_db()
    assert (fee_charge.waived_at, fee_charge.waived_by, fee_charge.waive_reason) == (
        NOW,
        trainer,
        "Was ill, sent a note",
    )
    assert fee_charge.fee_payment.status == Payment.Status.CANCELLED
    assert fee_charge.fee_payment.balance == 0
    assert not result.fee_already_paid and not fee_charge.corrected


def test_waiving_a_paid_fee_leaves_the_payment_paid_and_says_so(fee_charge, trainer):
    billing.payment_mark_paid(payment=fee_charge.fee_payment)
    result = charges.charge_waive(charge=fee_charge, by=trainer, reason="Goodwill")
    assert result.fee_already_paid
    assert Payment.objects.get().status == Payment.Status.PAID


def test_waiving_overdue_fee_cancels_it(fee_charge, trainer, frozen):
    frozen.shift(timedelta(days=2))
    billing.payment_mark_overdue(payment=fee_charge.fee_payment)
    charges.charge_waive(charge=fee_charge, by=trainer, reason="Goodwill")
    assert Payment.objects.get().status == Payment.Status.CANCELLED


@pytest.mark.parametrize(
    ("reason", "message"),
    [("   ", "Say why the charge is waived."), ("x" * 501, "Keep the reason under 500 characters.")],
)
def test_a_waive_needs_a_reason_and_changes_nothing_without_one(fee_charge, trainer, reason, message):
    with pytest.raises(ValidationError) as exc:
        charges.charge_waive(charge=fee_charge, by=trainer, reason=reason)
    assert exc.value.message_dict == {"reason": [message]}
    fee_charge.refresh_from_db()
    assert fee_charge.waived_at is None and fee_charge.fee_payment.status == Payment.Status.PENDING


def test_a_charge_is_waived_once_and_never_applies_again(fee_charge, trainer):
    charges.charge_waive(charge=fee_charge, by=trainer, reason="Goodwill")
    with pytest.raises(ValidationError, match="already been waived"):
        charges.charge_waive(charge=fee_charge, by=trainer, reason="Again")
    session = fee_charge.session
    scheduling.session_mark_completed(session=Session.objects.get(pk=session.pk))
    no_show(session)  # completed → no-show again: the waived charge stands, no new fee
    assert SessionCharge.objects.count() == 1
    assert list(Payment.objects.values_list("status", flat=True)) == [Payment.Status.CANCELLED]
    assert SessionCharge.objects.get().waive_reason == "Goodwill"


def test_a_no_show_corrected_to_completed_undoes_its_charge_and_no_longer_counts(fee_charge, client_obj):
    set_policy(grace_count=1)
    session = fee_charge.session
    scheduling.session_mark_completed(session=Session.objects.get(pk=session.pk))
    fee_charge.refresh_from_db()
    assert fee_charge.corrected and fee_charge.waived_by is None
    assert fee_charge.waive_reason == "Corrected: the session took place (marked completed)."
    assert fee_charge.fee_payment.status == Payment.Status.CANCELLED
    # The client came after all: her next no-show is her first.
    no_show(started(client_obj, hours_ago=2))
    assert SessionCharge.objects.exclude(pk=fee_charge.pk).get().outcome == Outcome.FREE


def test_a_status_change_that_fails_leaves_no_charge(client_obj):
    set_policy(no_show_charge=Charge.FEE_FIXED, no_show_fee=Decimal("20"))
    future = SessionFactory(client=client_obj, starts_at=NOW + timedelta(hours=1))
    with pytest.raises(ValidationError, match="has not started yet"):
        no_show(future)
    assert not SessionCharge.objects.exists() and not Payment.objects.exists()
