"""Trainers own their rules: scoped to their own clients, drafts first, a forecast before Activate."""

from datetime import date, timedelta

import pytest
import time_machine
from django.urls import reverse

from automation import forecast
from automation.models import AutomationLog, AutomationRule, ScanState, TriggerEvent
from automation.scan import scan
from billing.models import Payment
from clients.models import Channel
from messaging.models import Message
from scheduling import services as scheduling
from scheduling.models import Session
from tests.factories import ClientFactory, PaymentFactory, SessionFactory
from tests.support.clock import utc

pytestmark = pytest.mark.django_db

T0 = utc(2026, 12, 1, 12, 0)
ADD = reverse("admin:automation_automationrule_add")


def change_url(rule):
    return reverse("admin:automation_automationrule_change", args=[rule.pk])


def form(**fields):
    return {
        "name": "My reminder",
        "trigger_event": "session_scheduled",
        "offset_hours": 24,
        "late_booking": "send_now",
        "channel": "sms",
        "category": "",
        "subject_template": "",
        "body_template": "Hi {{ first_name }}, see you {{ session_time }}",
    } | fields


def trainer_adds_rule(trainer_client, **fields) -> AutomationRule:
    response = trainer_client.post(ADD, form(**fields))
    assert response.status_code == 302, response.content.decode()[:2000]
    rule = AutomationRule.objects.get(name=fields.get("name", "My reminder"))
    assert response.url == change_url(rule)
    return rule


def test_a_trainers_new_rule_is_hers_and_a_draft(trainer_client, trainer, other_trainer):
    with time_machine.travel(T0, tick=False):
        # Naming another trainer (or the studio) in the post changes nothing: the scope is forced.
        rule = trainer_adds_rule(trainer_client, trainer=other_trainer.pk, is_active="on")
    assert rule.trainer == trainer
    assert rule.is_active is False
    page = trainer_client.get(change_url(rule)).content.decode()
    assert "trainer_a" in page or "clients" in page
    assert 'value="Activate"' in page and 'value="Preview changes"' in page
    assert 'name="trainer"' not in page


def test_a_manager_keeps_studio_wide_rules_and_they_start_as_drafts(manager_client):
    response = manager_client.post(ADD, form(name="Studio reminder"))
    assert response.status_code == 302
    rule = AutomationRule.objects.get()
    assert rule.trainer is None and rule.is_active is False


def test_a_trainer_reads_studio_wide_rules_but_cannot_change_them(trainer_client, make_rule):
    studio = make_rule(TriggerEvent.SESSION_CREATED, name="Studio booking")
    page = trainer_client.get(change_url(studio))
    assert page.status_code == 200
    body = page.content.decode()
    assert 'name="_save"' not in body and 'value="Activate"' not in body
    assert trainer_client.post(change_url(studio), form(name="Hijacked")).status_code == 403
    for name in ("deactivate", "activate", "forecast"):
        url = reverse(f"admin:automation_automationrule_{name}", args=[studio.pk])
        assert trainer_client.post(url, form()).status_code == 403
    trainer_client.post(
        reverse("admin:automation_automationrule_changelist"),
        {"action": "deactivate", "_selected_action": [studio.pk]},
    )
    studio.refresh_from_db()
    assert studio.name == "Studio booking" and studio.is_active


def test_another_trainers_rule_is_not_found(trainer_client, other_trainer, make_rule):
    theirs = make_rule(TriggerEvent.SESSION_CREATED, trainer=other_trainer)
    assert trainer_client.get(change_url(theirs)).status_code in (302, 404)
    url = reverse("admin:automation_automationrule_activate", args=[theirs.pk])
    assert trainer_client.post(url).status_code == 404


def test_activate_and_deactivate_buttons(trainer_client, trainer):
    rule = trainer_adds_rule(trainer_client)
    trainer_client.post(reverse("admin:automation_automationrule_activate", args=[rule.pk]))
    rule.refresh_from_db()
    assert rule.is_active
    trainer_client.post(reverse("admin:automation_automationrule_deactivate", args=[rule.pk]))
    rule.refresh_from_db()
    assert not rule.is_active
    assert (
        trainer_client.get(reverse("admin:automation_automationrule_activate", args=[rule.pk])).status_code
        == 405
    )


def test_a_trainers_rule_never_fires_for_another_trainers_client_through_events(
    trainer_client, trainer, other_trainer, q_sync, django_capture_on_commit_callbacks
):
    with time_machine.travel(T0 - timedelta(hours=1), tick=False):
        rule = trainer_adds_rule(
            trainer_client, trigger_event="session_created", offset_hours=0, name="Booked"
        )
        trainer_client.post(reverse("admin:automation_automationrule_activate", args=[rule.pk]))
    with time_machine.travel(T0, tick=False), django_capture_on_commit_callbacks(execute=True):
        for owner in (trainer, other_trainer):
            client = ClientFactory(trainer=owner)
            scheduling.session_book(trainer=owner, client=client, starts_at=T0 + timedelta(days=2))
    assert list(Message.objects.values_list("client__trainer", "rule")) == [(trainer.pk, rule.pk)]
    assert AutomationLog.objects.count() == 1


def test_a_trainers_rule_never_fires_for_another_trainers_client_through_the_scan(
    trainer_client, trainer, other_trainer
):
    with time_machine.travel(T0 - timedelta(days=3), tick=False):
        rule = trainer_adds_rule(trainer_client)
        trainer_client.post(reverse("admin:automation_automationrule_activate", args=[rule.pk]))
        mine = SessionFactory(client=ClientFactory(trainer=trainer), starts_at=T0 + timedelta(hours=30))
        # The other trainer's client, even in a session the first trainer runs.
        SessionFactory(
            client=ClientFactory(trainer=other_trainer), trainer=trainer, starts_at=T0 + timedelta(hours=30)
        )
    ScanState.objects.create(name="time-triggers", scanned_until=T0)
    moment = T0
    while moment <= T0 + timedelta(hours=8):
        with time_machine.travel(moment, tick=False):
            scan()
        moment += timedelta(minutes=30)
    assert list(Message.objects.values_list("session", flat=True)) == [mine.pk]
    assert AutomationLog.objects.count() == 1


# --- The forecast of a draft is what a real run then sends ----------------------------------


@pytest.fixture
def studio(trainer, other_trainer):
    with time_machine.travel(T0 - timedelta(days=20), tick=False):
        ana = ClientFactory(trainer=trainer, first_name="Ana", birth_date=date(1990, 12, 4))
        bo = ClientFactory(trainer=trainer, first_name="Bo")
        stopped = ClientFactory(
            trainer=trainer, first_name="Stopped", sms_opted_out_at=T0 - timedelta(days=20)
        )
        theirs = ClientFactory(trainer=other_trainer, first_name="Theirs")
        for hours in (3, 30, 75, 150, 200):  # the 200 h one is beyond the 7 days
            SessionFactory(client=ana, starts_at=T0 + timedelta(hours=hours))
        SessionFactory(client=bo, starts_at=T0 + timedelta(hours=50))
        SessionFactory(client=bo, starts_at=T0 + timedelta(hours=60), status=Session.Status.CANCELLED)
        SessionFactory(client=stopped, starts_at=T0 + timedelta(hours=90))
        SessionFactory(client=theirs, starts_at=T0 + timedelta(hours=40))
        PaymentFactory(client=bo, due_date=date(2026, 12, 5))
        PaymentFactory(client=theirs, due_date=date(2026, 12, 3), status=Payment.Status.PENDING)
    ScanState.objects.create(name="time-triggers", scanned_until=T0 - timedelta(minutes=3))
    return {"ana": ana, "bo": bo}


def run_scans_for_seven_days():
    moment = T0
    while moment <= T0 + timedelta(days=7):
        with time_machine.travel(moment, tick=False):
            scan()
        moment += timedelta(minutes=30)


@pytest.mark.parametrize(
    "event, offset, channel",
    [
        (TriggerEvent.SESSION_SCHEDULED, 24, Channel.SMS),
        (TriggerEvent.PAYMENT_DUE, 48, Channel.EMAIL),
        (TriggerEvent.BIRTHDAY, 0, Channel.IN_APP),
    ],
)
def test_the_dry_run_of_a_draft_is_what_the_real_run_then_sends(
    studio, manager_client, event, offset, channel
):
    with time_machine.travel(T0 - timedelta(hours=1), tick=False):
        response = manager_client.post(
            ADD,
            form(
                name="Draft",
                trigger_event=event,
                offset_hours=offset,
                channel=channel,
                subject_template="Hello {{ first_name }}" if channel == Channel.EMAIL else "",
                body_template="Hi {{ first_name }} from {{ studio_name }}",
            ),
        )
        assert response.status_code == 302
    rule = AutomationRule.objects.get()
    assert not rule.is_active
    with time_machine.travel(T0, tick=False):
        predicted = forecast.rule_forecast(rule, now=T0, limit=100)
        page = manager_client.get(change_url(rule)).content.decode()
        manager_client.post(reverse("admin:automation_automationrule_activate", args=[rule.pk]))
    assert f"<strong>{predicted.total}</strong> message" in page
    run_scans_for_seven_days()
    sent = Message.objects.filter(rule=rule).order_by("pk")
    assert predicted.total == sent.count() > 0
    assert predicted.by_channel == {channel: sent.count()}
    assert sorted((p.client.pk, body) for p, _, body, _ in predicted.messages) == sorted(
        sent.values_list("client", "body")
    )
    skipped = AutomationLog.objects.filter(rule=rule, status=AutomationLog.Status.SKIPPED)
    assert dict(predicted.skipped) == {
        reason: skipped.filter(error=reason).count() for reason in skipped.values_list("error", flat=True)
    }
    if event == TriggerEvent.SESSION_SCHEDULED:
        # Ana's 3 h session's reminder fell due before the rule existed; 200 h is beyond the week.
        assert predicted.total == 5 and dict(predicted.skipped) == {"opted out of SMS (STOP)": 1}


def test_a_trainer_sees_only_her_clients_in_the_forecast(studio, trainer_client, trainer):
    with time_machine.travel(T0 - timedelta(hours=1), tick=False):
        rule = trainer_adds_rule(trainer_client)
    with time_machine.travel(T0, tick=False):
        page = trainer_client.get(change_url(rule)).content.decode()
        mine = forecast.rule_forecast(rule, now=T0, trainer_id=trainer.pk)
    assert "Theirs" not in page and "Ana" in page
    assert {p.client.trainer_id for p, *_ in mine.messages} == {trainer.pk}


def test_preview_changes_shows_the_forecast_of_the_unsaved_form_and_saves_nothing(studio, trainer_client):
    with time_machine.travel(T0 - timedelta(hours=1), tick=False):
        rule = trainer_adds_rule(trainer_client)
        trainer_client.post(reverse("admin:automation_automationrule_activate", args=[rule.pk]))
    url = reverse("admin:automation_automationrule_forecast", args=[rule.pk])
    with time_machine.travel(T0, tick=False):
        page = trainer_client.post(url, form(body_template="Changed {{ first_name }}", offset_hours=2))
    body = page.content.decode()
    assert page.status_code == 200
    assert "Changed Ana" in body and "not saved" in body
    rule.refresh_from_db()
    assert rule.body_template.startswith("Hi ") and rule.offset_hours == 24 and rule.is_active
    broken = trainer_client.post(url, form(body_template="{{ nope }}")).content.decode()
    assert "errornote" in broken
