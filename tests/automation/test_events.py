"""Event triggers: a saved Session or Payment enqueues work after commit; the worker fires rules once."""

from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine
from django.core import serializers
from django.utils import timezone

from automation import services
from automation.models import AutomationLog, AutomationRule, TriggerEvent
from billing import services as billing
from billing.models import Payment
from messaging.models import Message
from scheduling import services as scheduling
from scheduling.models import Session
from tests.factories import ClientFactory, PaymentFactory, SessionFactory, TrainerFactory
from tests.support.clock import utc

pytestmark = pytest.mark.django_db

NOW = utc(2026, 11, 25, 10, 0)


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


def book(client, starts_at, **kwargs):
    return scheduling.session_book(trainer=client.trainer, client=client, starts_at=starts_at, **kwargs)


def test_saving_a_session_only_enqueues_after_commit(
    client_obj, make_rule, django_capture_on_commit_callbacks
):
    make_rule(TriggerEvent.SESSION_CREATED)
    with django_capture_on_commit_callbacks() as callbacks:
        book(client_obj, NOW + timedelta(days=3))
    # Nothing rendered or sent inside the save; one enqueue waits for the commit.
    assert Message.objects.count() == 0
    assert AutomationLog.objects.count() == 0
    assert len(callbacks) == 1


def test_session_created_fires_once_through_the_worker(
    client_obj, make_rule, q_sync, django_capture_on_commit_callbacks
):
    rule = make_rule(
        TriggerEvent.SESSION_CREATED, body_template="Booked: {{ session_date }} {{ session_time }}"
    )
    with django_capture_on_commit_callbacks(execute=True):
        session = book(client_obj, utc(2026, 12, 1, 9, 0))
    with django_capture_on_commit_callbacks(execute=True):
        # Later saves are not "created".
        scheduling.session_update(session=session, notes="bring water")
        services.handle_event(event=services.SESSION_CREATED, pk=session.pk)  # a duplicate delivery
    message = Message.objects.get()
    assert message.rule == rule and message.session == session and message.client == client_obj
    assert message.body == "Booked: Tuesday 1 December 2026 09:00"
    log = AutomationLog.objects.get()
    assert (log.status, log.occurrence_key, log.message) == ("sent", f"session:{session.pk}:created", message)


def test_session_cancelled_fires_once(client_obj, make_rule, q_sync, django_capture_on_commit_callbacks):
    make_rule(TriggerEvent.SESSION_CANCELLED, body_template="Sorry we missed you, {{ first_name }}")
    session = SessionFactory(client=client_obj)
    session = Session.objects.get(pk=session.pk)
    with django_capture_on_commit_callbacks(execute=True):
        scheduling.session_cancel(session=session)
        session.save()  # saving again is not a second cancellation
    assert Message.objects.get().body == f"Sorry we missed you, {client_obj.first_name}"
    assert AutomationLog.objects.get().occurrence_key == f"session:{session.pk}:cancelled"


def test_completed_session_fires_no_cancellation(
    client_obj, make_rule, q_sync, django_capture_on_commit_callbacks
):
    make_rule(TriggerEvent.SESSION_CANCELLED)
    session = Session.objects.get(pk=SessionFactory(client=client_obj, starts_at=NOW - timedelta(hours=2)).pk)
    with django_capture_on_commit_callbacks(execute=True):
        scheduling.session_mark_completed(session=session)
    assert not Message.objects.exists()


def test_pending_payment_created_fires_payment_due(
    client_obj, make_rule, q_sync, django_capture_on_commit_callbacks
):
    make_rule(TriggerEvent.PAYMENT_DUE, body_template="{{ amount }} due {{ due_date }}")
    with django_capture_on_commit_callbacks(execute=True):
        payment = billing.payment_create(
            client=client_obj, amount=Decimal("45.00"), due_date=NOW.date() + timedelta(days=7)
        )
    with django_capture_on_commit_callbacks(execute=True):
        billing.payment_mark_paid(payment=payment)  # not an event for payment_due
    assert Message.objects.get().body == "£45.00 due Wednesday 2 December 2026"
    assert AutomationLog.objects.get().occurrence_key == f"payment:{payment.pk}:created"


def test_payment_turning_overdue_by_hand_fires_once(
    client_obj, make_rule, q_sync, django_capture_on_commit_callbacks
):
    make_rule(TriggerEvent.PAYMENT_OVERDUE, body_template="{{ amount }} is {{ days_overdue }} days late")
    make_rule(TriggerEvent.PAYMENT_OVERDUE, name="day 7", offset_hours=24 * 7)  # later: the scan's
    payment = Payment.objects.get(
        pk=PaymentFactory(client=client_obj, due_date=NOW.date() - timedelta(days=2)).pk
    )
    with django_capture_on_commit_callbacks(execute=True):
        billing.payment_mark_overdue(payment=payment)
    assert Message.objects.get().body == "£45.00 is 2 days late"
    assert AutomationLog.objects.get().occurrence_key == f"payment:{payment.pk}:overdue+0h"


def test_payment_created_overdue_fires_overdue_not_due(
    client_obj, make_rule, q_sync, django_capture_on_commit_callbacks
):
    make_rule(TriggerEvent.PAYMENT_DUE)
    overdue = make_rule(TriggerEvent.PAYMENT_OVERDUE)
    with django_capture_on_commit_callbacks(execute=True):
        billing.payment_create(
            client=client_obj, amount=Decimal("10"), due_date=NOW.date() - timedelta(days=3)
        )
    assert Message.objects.get().rule == overdue


def test_raw_saves_and_bookkeeping_updates_fire_nothing(
    client_obj, make_rule, q_sync, django_capture_on_commit_callbacks
):
    make_rule(TriggerEvent.SESSION_CREATED)
    make_rule(TriggerEvent.SESSION_CANCELLED)
    session = SessionFactory.build(
        client=client_obj, trainer=client_obj.trainer, pk=999, created_at=NOW, updated_at=NOW
    )
    data = serializers.serialize("json", [session])
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        for obj in serializers.deserialize("json", data):
            obj.save()  # fixture loading: raw=True
        Session.objects.filter(pk=999).update(status=Session.Status.CANCELLED)
    assert callbacks == []
    assert not Message.objects.exists()


def test_inactive_rule_never_fires(client_obj, make_rule, q_sync, django_capture_on_commit_callbacks):
    make_rule(TriggerEvent.SESSION_CREATED, is_active=False)
    with django_capture_on_commit_callbacks(execute=True):
        book(client_obj, NOW + timedelta(days=2))
    assert not AutomationLog.objects.exists()


def test_trainer_scoped_rule_fires_only_for_that_trainers_clients(
    make_rule, q_sync, django_capture_on_commit_callbacks
):
    anna, ben = TrainerFactory(username="anna"), TrainerFactory(username="ben")
    rule = make_rule(TriggerEvent.SESSION_CREATED, trainer=anna)
    with django_capture_on_commit_callbacks(execute=True):
        mine = book(ClientFactory(trainer=anna), NOW + timedelta(days=2))
        book(ClientFactory(trainer=ben), NOW + timedelta(days=2))
    assert list(Message.objects.values_list("session", "rule")) == [(mine.pk, rule.pk)]


def test_opted_out_client_is_logged_as_skipped_with_the_reason(
    make_rule, q_sync, django_capture_on_commit_callbacks
):
    client = ClientFactory(sms_opted_out_at=NOW)
    make_rule(TriggerEvent.SESSION_CREATED, channel="sms")
    make_rule(TriggerEvent.SESSION_CREATED, name="email", channel="email", subject_template="Booked")
    no_phone = ClientFactory(phone="")
    with django_capture_on_commit_callbacks(execute=True):
        book(client, NOW + timedelta(days=2))
        book(no_phone, NOW + timedelta(days=3))
    reasons = dict(AutomationLog.objects.filter(status="skipped").values_list("client", "error"))
    assert reasons == {client.pk: "opted out of SMS (STOP)", no_phone.pk: "no mobile number"}
    assert Message.objects.filter(channel="email").count() == 2


def test_birthday_rules_default_to_marketing_consent(make_rule):
    rule = make_rule(TriggerEvent.BIRTHDAY)
    assert rule.effective_category == "marketing"
    assert make_rule(TriggerEvent.SESSION_CREATED).effective_category == "transactional"
    assert make_rule(TriggerEvent.BIRTHDAY, category="transactional").effective_category == "transactional"


# --- Late bookings (session_scheduled) -------------------------------------------------------


@pytest.mark.parametrize("policy, expected", [("send_now", "sent"), ("skip", "skipped")])
def test_session_booked_inside_the_reminder_window_follows_the_policy(
    client_obj, make_rule, q_sync, django_capture_on_commit_callbacks, policy, expected
):
    make_rule(TriggerEvent.SESSION_SCHEDULED, offset_hours=24, late_booking=policy)
    with django_capture_on_commit_callbacks(execute=True):
        session = book(client_obj, NOW + timedelta(hours=5))
    log = AutomationLog.objects.get()
    assert log.status == expected
    assert log.occurrence_key == f"session:{session.pk}:start=2026-11-25T15:00Z"
    if policy == "skip":
        assert "booked inside the reminder window" in log.error


def test_session_booked_well_ahead_is_left_to_the_scan(
    client_obj, make_rule, q_sync, django_capture_on_commit_callbacks
):
    make_rule(TriggerEvent.SESSION_SCHEDULED, offset_hours=24)
    with django_capture_on_commit_callbacks(execute=True):
        book(client_obj, NOW + timedelta(days=3))
    assert not AutomationLog.objects.exists()


def test_session_moved_inside_the_window_gets_a_reminder_for_its_new_time(
    client_obj, make_rule, q_sync, django_capture_on_commit_callbacks
):
    make_rule(TriggerEvent.SESSION_SCHEDULED, offset_hours=24, body_template="{{ session_time }}")
    session = Session.objects.get(pk=SessionFactory(client=client_obj, starts_at=NOW + timedelta(days=3)).pk)
    with django_capture_on_commit_callbacks(execute=True):
        scheduling.session_update(session=session, starts_at=NOW + timedelta(hours=6))
    assert Message.objects.get().body == "16:00"  # London is on UTC in November
    assert AutomationLog.objects.get().occurrence_key.endswith("start=2026-11-25T16:00Z")


# --- Robustness -------------------------------------------------------------------------------


def test_a_failing_rule_is_logged_and_the_others_carry_on(
    client_obj, make_rule, q_sync, django_capture_on_commit_callbacks
):
    broken = make_rule(TriggerEvent.SESSION_CREATED, name="broken")
    # Saved around the form (e.g. an old rule): fails at render time.
    AutomationRule.objects.filter(pk=broken.pk).update(body_template="{% if %}")
    good = make_rule(TriggerEvent.SESSION_CREATED, name="good")
    with django_capture_on_commit_callbacks(execute=True):
        book(client_obj, NOW + timedelta(days=2))
    logs = {log.rule_id: log for log in AutomationLog.objects.all()}
    assert logs[broken.pk].status == "failed" and "syntax" in logs[broken.pk].error.lower()
    assert logs[good.pk].status == "sent"
    assert Message.objects.get().rule == good


def test_editing_a_rule_changes_future_occurrences_only(
    client_obj, make_rule, q_sync, django_capture_on_commit_callbacks
):
    rule = make_rule(TriggerEvent.SESSION_CREATED, body_template="old")
    with django_capture_on_commit_callbacks(execute=True):
        first = book(client_obj, NOW + timedelta(days=2))
    rule.body_template = "new"
    rule.save()
    with django_capture_on_commit_callbacks(execute=True):
        services.handle_event(event=services.SESSION_CREATED, pk=first.pk)
        second = book(client_obj, NOW + timedelta(days=4))
    bodies = dict(Message.objects.values_list("session", "body"))
    assert bodies == {first.pk: "old", second.pk: "new"}


def test_client_deleted_before_the_worker_runs_is_skipped(client_obj, make_rule):
    make_rule(TriggerEvent.SESSION_CREATED)
    session = SessionFactory(client=client_obj)
    pk = session.pk
    session.delete()
    services.handle_event(event=services.SESSION_CREATED, pk=pk)
    assert not AutomationLog.objects.exists()


def test_session_cancelled_before_the_worker_runs_gets_no_booking_message(client_obj, make_rule):
    make_rule(TriggerEvent.SESSION_CREATED)
    session = SessionFactory(client=client_obj)
    Session.objects.filter(pk=session.pk).update(status=Session.Status.CANCELLED, cancelled_at=timezone.now())
    services.handle_event(event=services.SESSION_CREATED, pk=session.pk)
    log = AutomationLog.objects.get()
    assert (log.status, log.error) == ("skipped", "session cancelled")


def test_a_database_error_creating_one_message_is_recorded_and_the_batch_carries_on(make_rule, monkeypatch):
    """The batch is redone with a savepoint per message; only the broken one fails."""
    from django.db import IntegrityError

    import messaging.services

    rule = make_rule(TriggerEvent.SESSION_CREATED)
    sessions = [SessionFactory() for _ in range(3)]
    real = messaging.services.send_message
    broken_client = sessions[1].client

    def send_message(**kwargs):
        message = real(**kwargs)
        if kwargs["client"] == broken_client:
            # After its row went in: only rolling back can undo it.
            raise IntegrityError("simulated")
        return message

    real_bulk = messaging.services.send_messages

    def send_messages(outgoing):
        messages = real_bulk(outgoing)
        if any(item.client == broken_client for item in outgoing):
            raise IntegrityError("simulated")
        return messages

    monkeypatch.setattr(messaging.services, "send_message", send_message)
    monkeypatch.setattr(messaging.services, "send_messages", send_messages)
    from automation import engine

    occurrences = [
        engine.Occurrence(
            rule=rule, key=engine.session_created_key(s.pk), client_id=s.client_id, session_id=s.pk
        )
        for s in sessions
    ]
    result = engine.fire_occurrences(occurrences)
    assert dict(result.per_rule[rule.pk]) == {"sent": 2, "failed": 1}
    assert set(Message.objects.values_list("client", flat=True)) == {
        sessions[0].client_id,
        sessions[2].client_id,
    }
    failed = AutomationLog.objects.get(status="failed")
    assert failed.client == broken_client and "simulated" in failed.error


def test_a_rule_created_after_the_event_does_not_fire_for_it(client_obj, make_rule):
    session = SessionFactory(client=client_obj)
    make_rule(TriggerEvent.SESSION_CREATED, created_at=NOW + timedelta(seconds=1))
    services.handle_event(event=services.SESSION_CREATED, pk=session.pk, at=NOW)
    assert not AutomationLog.objects.exists()
