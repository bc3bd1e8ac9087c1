"""session_no_show / session_late_cancelled: once per session's charge, with the charge's variables."""

from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine

from automation import services
from automation.models import AutomationLog, TriggerEvent
from automation.previews import preview
from automation.templating import sample_context, validate_for_event
from billing import charges
from billing.policy import Charge, SessionCharge
from messaging.models import Message
from scheduling import services as scheduling
from scheduling.models import Session
from tests.factories import SessionFactory, sell_package, set_policy
from tests.support.clock import utc

pytestmark = pytest.mark.django_db

NOW = utc(2026, 11, 25, 10, 0)
TEMPLATE = (
    "{{ first_name }}, you missed today's session."
    "{% if fee_amount %} As per our policy a {{ fee_amount }} fee applies.{% endif %}"
    "{% if charge_outcome == 'free' %} This one is on us.{% endif %}"
)


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


def no_show(session):
    return scheduling.session_mark_no_show(session=Session.objects.get(pk=session.pk))


def test_a_no_show_fires_its_rule_once_with_the_fee(
    client_obj, make_rule, q_sync, django_capture_on_commit_callbacks
):
    set_policy(no_show_charge=Charge.FEE_FIXED, no_show_fee=Decimal("20"))
    rule = make_rule(TriggerEvent.SESSION_NO_SHOW, body_template=TEMPLATE)
    make_rule(TriggerEvent.SESSION_LATE_CANCELLED)
    session = SessionFactory(client=client_obj, starts_at=NOW - timedelta(hours=1))
    with django_capture_on_commit_callbacks(execute=True):
        no_show(session)
    message = Message.objects.get()
    assert (
        message.body
        == f"{client_obj.first_name}, you missed today's session. As per our policy a £20.00 fee applies."
    )
    assert (message.rule, message.session, message.payment) == (
        rule,
        session,
        SessionCharge.objects.get().fee_payment,
    )
    assert AutomationLog.objects.get().occurrence_key == f"session:{session.pk}:no_show"
    # The worker runs it again (a retry): nothing more.
    services.handle_event(event=services.SESSION_NO_SHOW, pk=session.pk)
    assert Message.objects.count() == 1


def test_a_free_no_show_still_fires_and_says_so(
    client_obj, make_rule, q_sync, django_capture_on_commit_callbacks
):
    set_policy(no_show_charge=Charge.FEE_FIXED, no_show_fee=Decimal("20"), grace_count=1)
    make_rule(TriggerEvent.SESSION_NO_SHOW, body_template=TEMPLATE)
    with django_capture_on_commit_callbacks(execute=True):
        no_show(SessionFactory(client=client_obj, starts_at=NOW - timedelta(hours=1)))
    assert Message.objects.get().body.endswith("you missed today's session. This one is on us.")


def test_a_late_cancellation_fires_its_rule_and_the_cancelled_rule(
    client_obj, make_rule, q_sync, django_capture_on_commit_callbacks
):
    set_policy(late_cancel_charge=Charge.FEE_PERCENT, late_cancel_percent=50)
    make_rule(
        TriggerEvent.SESSION_LATE_CANCELLED,
        body_template="Cancelled late: {% if fee_amount %}{{ fee_amount }}{% else %}no fee{% endif %}. {{ cancellation_policy }}",
    )
    make_rule(TriggerEvent.SESSION_NO_SHOW)
    session = SessionFactory(client=client_obj, starts_at=NOW + timedelta(hours=3))
    with django_capture_on_commit_callbacks(execute=True):
        scheduling.session_cancel(session=session, by=Session.CancelledBy.CLIENT)
    assert Message.objects.get().body == (
        "Cancelled late: no fee. Sessions can be cancelled free of charge up to 24 hours before they start. "
        "A later cancellation costs 50% of the session's price. For later changes, please contact the studio."
    )
    assert AutomationLog.objects.get().occurrence_key == f"session:{session.pk}:late_cancelled"


def test_an_in_time_or_staff_cancellation_fires_no_late_cancel_rule(
    client_obj, make_rule, q_sync, django_capture_on_commit_callbacks
):
    make_rule(TriggerEvent.SESSION_LATE_CANCELLED)
    with django_capture_on_commit_callbacks(execute=True):
        scheduling.session_cancel(
            session=SessionFactory(client=client_obj, starts_at=NOW + timedelta(days=3)),
            by=Session.CancelledBy.CLIENT,
        )
        scheduling.session_cancel(
            session=SessionFactory(client=client_obj, starts_at=NOW + timedelta(hours=3))
        )
    assert not Message.objects.exists()


def test_a_charge_waived_or_corrected_before_the_worker_runs_is_not_told(
    client_obj, make_rule, trainer, django_capture_on_commit_callbacks
):
    set_policy(no_show_charge=Charge.FEE_FIXED, no_show_fee=Decimal("20"))
    make_rule(TriggerEvent.SESSION_NO_SHOW, body_template=TEMPLATE)
    waived = SessionFactory(client=client_obj, starts_at=NOW - timedelta(hours=1))
    corrected = SessionFactory(client=client_obj, starts_at=NOW - timedelta(hours=2))
    no_show(waived)
    no_show(corrected)
    charges.charge_waive(charge=SessionCharge.objects.get(session=waived), by=trainer, reason="Goodwill")
    scheduling.session_mark_completed(session=Session.objects.get(pk=corrected.pk))
    services.handle_event(event=services.SESSION_NO_SHOW, pk=waived.pk)
    services.handle_event(event=services.SESSION_NO_SHOW, pk=corrected.pk)
    assert not Message.objects.exists()
    assert sorted(AutomationLog.objects.values_list("status", "error")) == [
        ("skipped", "charge waived"),
        ("skipped", "session completed"),
    ]


def test_rules_for_the_policy_events_may_use_the_charge_variables():
    for event in (TriggerEvent.SESSION_NO_SHOW, TriggerEvent.SESSION_LATE_CANCELLED):
        validate_for_event(TEMPLATE + " {{ amount }} {{ session_date }} {{ credit_used }}", event)
    sample = sample_context(TriggerEvent.SESSION_NO_SHOW)
    assert (sample["fee_amount"], sample["charge_outcome"]) == ("£20.00", "fee")
    assert len(TriggerEvent.SESSION_LATE_CANCELLED.value) == 22


def test_a_rule_preview_renders_against_the_latest_charge(client_obj, make_rule):
    set_policy(no_show_charge=Charge.FEE_FIXED, no_show_fee=Decimal("25"))
    rule = make_rule(TriggerEvent.SESSION_NO_SHOW, body_template=TEMPLATE)
    assert "sample values" in preview(rule).source
    no_show(SessionFactory(client=client_obj, starts_at=NOW - timedelta(hours=1)))
    result = preview(rule)
    assert result.body.endswith("As per our policy a £25.00 fee applies.")
    assert result.source.startswith("session “")


def test_a_credit_no_show_tells_the_credit_used_and_the_credits_left(
    client_obj, make_rule, q_sync, django_capture_on_commit_callbacks
):
    set_policy(no_show_charge=Charge.CREDIT)
    sell_package(client_obj, sessions=5)
    make_rule(
        TriggerEvent.SESSION_NO_SHOW,
        body_template="Missed.{% if credit_used %} One credit used; {{ credits_left }} left.{% endif %}",
    )
    with django_capture_on_commit_callbacks(execute=True):
        no_show(SessionFactory(client=client_obj, starts_at=NOW - timedelta(hours=1)))
    assert Message.objects.get().body == "Missed. One credit used; 4 left."
