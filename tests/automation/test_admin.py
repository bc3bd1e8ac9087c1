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
    assert mail.outbox[0].subject.startswith("[TEST] ")
    # Recorded like a campaign's test send: a message to staff, never to a client.
    message = Message.objects.get()
    assert message.client is None and message.to_address == manager.email
    assert message.status == Message.Status.SENT


def test_send_a_test_to_me_says_when_it_tested_only_the_first_ten(
    manager_client, make_rule, q_sync, django_capture_on_commit_callbacks
):
    rules = [make_rule(TriggerEvent.BIRTHDAY, name=f"Rule {n}", body_template="Hi") for n in range(12)]
    with django_capture_on_commit_callbacks(execute=True):
        response = manager_client.post(
            CHANGELIST, {"action": "send_test_to_me", "_selected_action": [r.pk for r in rules]}, follow=True
        )
    page = response.content.decode()
    assert "Only the first 10 selected rules were tested" in page
    assert len(mail.outbox) == 10


def test_a_trainers_test_send_never_carries_another_trainers_client_or_a_live_link(
    trainer_client, trainer, other_trainer, make_rule, q_sync, django_capture_on_commit_callbacks
):
    from messaging import links

    rule = make_rule(
        TriggerEvent.SESSION_CREATED,
        channel="email",
        body_template="Hi {{ first_name }}: {{ portal_link }} {{ confirm_link }} {{ cancel_link }} "
        "{{ unsubscribe_link }}",
    )
    mine = SessionFactory(client=ClientFactory(trainer=trainer, first_name="Mine"))
    # The studio's most recent session belongs to another trainer's client.
    theirs = SessionFactory(client=ClientFactory(trainer=other_trainer, first_name="Zebedee"))
    with django_capture_on_commit_callbacks(execute=True):
        response = trainer_client.post(
            CHANGELIST, {"action": "send_test_to_me", "_selected_action": [rule.pk]}, follow=True
        )
    assert "queued to" in response.content.decode()
    [email] = mail.outbox
    assert email.to == [trainer.email]
    assert "Hi Mine" in email.body and "Zebedee" not in email.body
    assert "sample-token" in email.body
    for session in (mine, theirs):
        assert links.portal_link(session.client) not in email.body
        assert links.confirm_link(session) not in email.body


def test_the_preview_shows_sample_links_not_a_real_clients(manager_client, make_rule):
    from messaging import links

    rule = make_rule(TriggerEvent.SESSION_CREATED, body_template="{{ portal_link }} {{ cancel_link }}")
    session = SessionFactory()
    page = manager_client.get(
        reverse("admin:automation_automationrule_change", args=[rule.pk])
    ).content.decode()
    assert "sample-token" in page
    assert links.portal_link(session.client) not in page
    assert links.cancel_link(session) not in page


def test_send_a_test_to_me_needs_a_permission(make_rule):
    from django.contrib.admin.sites import site

    action = site._registry[AutomationRule].send_test_to_me
    assert list(action.allowed_permissions) == ["view"]


# --- Trainer scoping of the rules ---------------------------------------------------------------


@pytest.fixture
def scoped_rules(make_rule, trainer, other_trainer):
    return {
        "studio": make_rule(TriggerEvent.SESSION_CREATED, name="Studio rule"),
        "mine": make_rule(TriggerEvent.SESSION_CREATED, name="My rule", trainer=trainer),
        "theirs": make_rule(TriggerEvent.SESSION_CREATED, name="Their rule", trainer=other_trainer),
    }


def test_a_trainer_lists_studio_rules_and_their_own_only(trainer_client, scoped_rules):
    response = trainer_client.get(CHANGELIST)
    assert {r.name for r in response.context["cl"].result_list} == {"Studio rule", "My rule"}


def test_a_trainer_cannot_open_another_trainers_rule(trainer_client, scoped_rules):
    def url(key):
        return reverse("admin:automation_automationrule_change", args=[scoped_rules[key].pk])

    assert trainer_client.get(url("studio")).status_code == 200
    assert trainer_client.get(url("mine")).status_code == 200
    assert trainer_client.get(url("theirs")).status_code in (302, 404)


def test_a_trainers_rule_statistics_count_only_their_clients(
    trainer_client, manager, trainer, other_trainer, scoped_rules
):
    from django.test import Client

    manager_client = Client()
    manager_client.force_login(manager)
    rule = scoped_rules["studio"]
    add_log(rule, "a", message_status="delivered", client=ClientFactory(trainer=trainer))
    add_log(rule, "b", message_status="delivered", client=ClientFactory(trainer=other_trainer))
    add_log(rule, "c", message_status="failed", client=ClientFactory(trainer=other_trainer))
    change = reverse("admin:automation_automationrule_change", args=[rule.pk])

    row = next(r for r in trainer_client.get(CHANGELIST).context["cl"].result_list if r.pk == rule.pk)
    assert (row.stat_fired, row.stat_delivered, row.stat_failed) == (1, 1, 0)
    assert "fired 1 · sent 1 · delivered 1 · failed 0" in trainer_client.get(change).content.decode()

    row = next(r for r in manager_client.get(CHANGELIST).context["cl"].result_list if r.pk == rule.pk)
    assert (row.stat_fired, row.stat_delivered, row.stat_failed) == (3, 2, 1)
    assert "fired 3 · sent 2 · delivered 2 · failed 1" in manager_client.get(change).content.decode()


def test_the_log_rule_filter_offers_only_rules_in_the_trainers_logs(
    trainer_client, trainer, other_trainer, scoped_rules
):
    add_log(scoped_rules["mine"], "mine", client=ClientFactory(trainer=trainer))
    add_log(scoped_rules["studio"], "studio", client=ClientFactory(trainer=trainer))
    add_log(scoped_rules["theirs"], "theirs", client=ClientFactory(trainer=other_trainer))
    response = trainer_client.get(reverse("admin:automation_automationlog_changelist"))
    [rule_filter] = [f for f in response.context["cl"].filter_specs if getattr(f, "field_path", "") == "rule"]
    assert sorted(label for _, label in rule_filter.lookup_choices) == ["My rule", "Studio rule"]
    assert "Their rule" not in response.content.decode()


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
