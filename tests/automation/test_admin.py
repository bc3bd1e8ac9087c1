import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from automation.models import AutomationLog, AutomationRule, TriggerEvent
from messaging.models import Message
from tests.factories import ClientFactory, SessionFactory

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:automation_automationrule_changelist")


def add_log(rule, key, status="sent", message_status=None, client=None):
    message = None
    if message_status:
        message = Message.objects.create(
            client=client, channel="sms", body="x", status=message_status, rule=rule
        )
    return AutomationLog.objects.create(
        rule=rule, occurrence_key=key, status=status, message=message, client=client
    )


def test_rule_statistics_come_from_logs_and_message_status(manager_client, make_rule, client_obj):
    rule = make_rule(TriggerEvent.SESSION_CREATED)
    add_log(rule, "a", message_status="delivered", client=client_obj)
    add_log(rule, "b", message_status="sent", client=client_obj)
    add_log(rule, "c", message_status="failed", client=client_obj)
    add_log(rule, "d", status="skipped")
    add_log(rule, "e", status="failed")
    add_log(rule, "f", message_status="suppressed", client=client_obj)
    response = manager_client.get(CHANGELIST)
    row = response.context["cl"].result_list[0]
    assert (row.stat_fired, row.stat_sent, row.stat_delivered, row.stat_failed, row.stat_skipped) == (
        6,
        2,
        1,
        2,
        2,
    )
    assert row.stat_last_fired is not None
    page = manager_client.get(reverse("admin:automation_automationrule_change", args=[rule.pk]))
    assert "fired 6 · sent 2 · delivered 1 · failed 2 · skipped 2" in page.content.decode()


def test_rule_list_costs_the_same_queries_for_many_rules(
    manager_client, make_rule, client_obj, django_assert_max_num_queries
):
    for i in range(3):
        rule = make_rule(TriggerEvent.SESSION_CREATED, name=f"r{i}")
        add_log(rule, "a", message_status="delivered", client=client_obj)
    manager_client.get(CHANGELIST)
    with CaptureQueriesContext(connection) as few:
        manager_client.get(CHANGELIST)
    for i in range(3, 20):
        rule = make_rule(TriggerEvent.SESSION_CREATED, name=f"r{i}")
        add_log(rule, "a", message_status="delivered", client=client_obj)
    with django_assert_max_num_queries(len(few)):
        manager_client.get(CHANGELIST)


def test_adding_a_rule_with_a_template_escape_shows_a_form_error(manager_client):
    response = manager_client.post(
        reverse("admin:automation_automationrule_add"),
        {
            "name": "Sneaky",
            "trigger_event": "session_created",
            "offset_hours": 0,
            "late_booking": "send_now",
            "channel": "sms",
            "category": "",
            "body_template": "{{ client.trainer.password }}",
            "is_active": "on",
        },
    )
    assert response.status_code == 200
    assert "is not allowed" in response.content.decode()
    assert not AutomationRule.objects.exists()


def test_add_page_lists_the_variables_per_event(manager_client):
    page = manager_client.get(reverse("admin:automation_automationrule_add")).content.decode()
    assert 'data-event="payment_overdue"' in page and "{{ days_overdue }}" in page


def test_preview_renders_against_a_recent_real_session(manager_client, make_rule):
    rule = make_rule(
        TriggerEvent.SESSION_SCHEDULED, body_template="Hi {{ first_name }}, {{ session_location }}"
    )
    SessionFactory(client=ClientFactory(first_name="Priya"), location="Room 9")
    page = manager_client.get(
        reverse("admin:automation_automationrule_change", args=[rule.pk])
    ).content.decode()
    assert "Hi Priya, Room 9" in page and "the most recent one" in page


def test_preview_falls_back_to_sample_values(manager_client, make_rule):
    rule = make_rule(TriggerEvent.PAYMENT_OVERDUE, body_template="{{ full_name }} owes {{ amount }}")
    page = manager_client.get(
        reverse("admin:automation_automationrule_change", args=[rule.pk])
    ).content.decode()
    assert "Alex Smith owes" in page and "sample values" in page


def test_trainer_preview_never_shows_another_trainers_client(
    trainer_client, trainer, other_trainer, make_rule
):
    rule = make_rule(TriggerEvent.SESSION_CREATED, body_template="Hi {{ first_name }}")
    SessionFactory(client=ClientFactory(trainer=other_trainer, first_name="Zebedee"))
    page = trainer_client.get(
        reverse("admin:automation_automationrule_change", args=[rule.pk])
    ).content.decode()
    assert "Zebedee" not in page and "Hi Alex" in page


def test_send_a_test_to_me_emails_the_staff_user_through_the_worker(
    manager_client, manager, make_rule, q_sync, django_capture_on_commit_callbacks
):
    rule = make_rule(TriggerEvent.BIRTHDAY, body_template="Happy birthday {{ first_name }}")
    with django_capture_on_commit_callbacks(execute=True):
        response = manager_client.post(
            CHANGELIST, {"action": "send_test_to_me", "_selected_action": [rule.pk]}, follow=True
        )
    assert "queued to" in response.content.decode()
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == [manager.email]
    assert "Happy birthday Alex" in mail.outbox[0].body
    assert not Message.objects.exists()  # a test to staff is not a client message


def test_rule_with_history_cannot_be_deleted(manager_client, make_rule):
    rule = make_rule(TriggerEvent.SESSION_CREATED)
    add_log(rule, "k")
    url = reverse("admin:automation_automationrule_delete", args=[rule.pk])
    assert manager_client.post(url, {"post": "yes"}).status_code == 403
    assert AutomationRule.objects.filter(pk=rule.pk).exists()
    fresh = make_rule(TriggerEvent.SESSION_CREATED, name="unused")
    manager_client.post(reverse("admin:automation_automationrule_delete", args=[fresh.pk]), {"post": "yes"})
    assert not AutomationRule.objects.filter(pk=fresh.pk).exists()


def test_log_admin_is_read_only_with_filters(manager_client, make_rule):
    rule = make_rule(TriggerEvent.SESSION_CREATED)
    log = add_log(rule, "session:1:created")
    changelist = reverse("admin:automation_automationlog_changelist")
    response = manager_client.get(changelist, {"status__exact": "sent", "rule__id__exact": rule.pk})
    assert response.status_code == 200 and "session:1:created" in response.content.decode()
    assert manager_client.get(reverse("admin:automation_automationlog_add")).status_code == 403
    change = manager_client.get(reverse("admin:automation_automationlog_change", args=[log.pk]))
    assert change.status_code == 200 and 'name="_save"' not in change.content.decode()
    assert (
        manager_client.post(reverse("admin:automation_automationlog_delete", args=[log.pk])).status_code
        == 403
    )


def test_trainer_sees_only_their_clients_logs(trainer_client, trainer, other_trainer, make_rule):
    rule = make_rule(TriggerEvent.SESSION_CREATED)
    add_log(rule, "mine", client=ClientFactory(trainer=trainer))
    theirs = add_log(rule, "theirs", client=ClientFactory(trainer=other_trainer))
    page = trainer_client.get(reverse("admin:automation_automationlog_changelist")).content.decode()
    assert "mine" in page and "theirs" not in page
    assert trainer_client.get(
        reverse("admin:automation_automationlog_change", args=[theirs.pk])
    ).status_code in (302, 404)


def test_deactivate_action(manager_client, make_rule):
    rule = make_rule(TriggerEvent.SESSION_CREATED)
    manager_client.post(CHANGELIST, {"action": "deactivate", "_selected_action": [rule.pk]})
    rule.refresh_from_db()
    assert rule.is_active is False
