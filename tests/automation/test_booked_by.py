"""A rule may be only for sessions booked online by the client (or only for staff bookings):
"Thanks for booking online" goes to portal bookings and is skipped, with the reason, for
the rest. The forecast judges it with the engine's own code, so it agrees with the scan."""

from datetime import timedelta

import pytest
import time_machine
from django.urls import reverse

from automation import engine, forecast, scan, services
from automation.models import AutomationLog, AutomationRule, TriggerEvent
from messaging.models import Message
from scheduling import services as scheduling
from scheduling.models import Session
from tests.factories import ClientFactory
from tests.support.clock import utc

pytestmark = pytest.mark.django_db

NOW = utc(2026, 11, 25, 10, 0)
ONLINE = Session.BookedBy.CLIENT
STAFF = Session.BookedBy.STAFF


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


def book(client, starts_at, booked_by):
    return scheduling.session_book(
        trainer=client.trainer, client=client, starts_at=starts_at, booked_by=booked_by
    )


def test_thanks_for_booking_online_goes_to_online_bookings_only(
    make_rule, q_sync, django_capture_on_commit_callbacks
):
    rule = make_rule(
        TriggerEvent.SESSION_CREATED,
        body_template="Thanks for booking online, {{ first_name }}!",
        only_booked_by=ONLINE,
    )
    online, by_staff = ClientFactory(first_name="Olga"), ClientFactory(first_name="Sam")
    with django_capture_on_commit_callbacks(execute=True):
        online_session = book(online, NOW + timedelta(days=2), ONLINE)
        staff_session = book(by_staff, NOW + timedelta(days=3), STAFF)

    message = Message.objects.get()
    assert (message.client, message.rule, message.body) == (online, rule, "Thanks for booking online, Olga!")
    logs = {log.occurrence_key: (log.status, log.error) for log in AutomationLog.objects.all()}
    assert logs == {
        f"session:{online_session.pk}:created": ("sent", ""),
        f"session:{staff_session.pk}:created": (
            "skipped",
            "booked by staff (the rule is for online bookings only)",
        ),
    }


def test_a_staff_only_rule_skips_online_bookings_and_a_blank_one_takes_both(
    make_rule, q_sync, django_capture_on_commit_callbacks
):
    staff_only = make_rule(TriggerEvent.SESSION_CREATED, name="staff", only_booked_by=STAFF)
    everyone = make_rule(TriggerEvent.SESSION_CREATED, name="everyone")
    with django_capture_on_commit_callbacks(execute=True):
        session = book(ClientFactory(), NOW + timedelta(days=2), ONLINE)
        book(ClientFactory(), NOW + timedelta(days=3), STAFF)

    assert Message.objects.filter(rule=everyone).count() == 2
    assert Message.objects.filter(rule=staff_only).count() == 1
    skipped = AutomationLog.objects.get(rule=staff_only, status="skipped")
    assert skipped.occurrence_key == f"session:{session.pk}:created"
    assert skipped.error == "booked online by the client (the rule is for staff bookings only)"


def test_the_forecast_and_the_scan_agree_on_who_booked(make_rule):
    rule = make_rule(
        TriggerEvent.SESSION_SCHEDULED,
        offset_hours=24,
        only_booked_by=ONLINE,
        created_at=NOW - timedelta(days=1),
    )
    start = NOW + timedelta(days=2)
    online = book(ClientFactory(), start, ONLINE)
    by_staff = book(ClientFactory(), start + timedelta(hours=2), STAFF)

    predicted = forecast.rule_forecast(rule, now=NOW)
    assert [p.session.pk for p, *_ in predicted.messages] == [online.pk]
    assert dict(predicted.skipped) == {engine.BOOKED_BY_SKIP_REASONS[STAFF]: 1}

    for session in (online, by_staff):  # a scan just after each reminder falls due
        moment = session.starts_at - timedelta(hours=24, minutes=-1)
        with time_machine.travel(moment, tick=False):
            scan.scan(now=moment)
    assert list(Message.objects.values_list("session", flat=True)) == [online.pk]
    log = AutomationLog.objects.get(status="skipped")
    assert (log.occurrence_key, log.error) == (
        engine.session_start_key(by_staff.pk, by_staff.starts_at),
        engine.BOOKED_BY_SKIP_REASONS[STAFF],
    )


def test_a_cancellation_rule_reads_who_booked_too(make_rule):
    make_rule(TriggerEvent.SESSION_CANCELLED, only_booked_by=ONLINE)
    session = book(ClientFactory(), NOW + timedelta(days=2), STAFF)
    scheduling.session_cancel(session=session)
    result = services.handle_event(event=services.SESSION_CANCELLED, pk=session.pk)
    assert result.total("skipped") == 1 and not Message.objects.exists()


# --- The admin form -----------------------------------------------------------------------------

ADD = reverse("admin:automation_automationrule_add")


def form(**fields):
    return {
        "name": "Online thanks",
        "trigger_event": "session_created",
        "offset_hours": 0,
        "late_booking": "send_now",
        "merge_minutes": 0,
        "only_booked_by": "client",
        "channel": "sms",
        "category": "",
        "body_template": "Thanks for booking online!",
    } | fields


def test_the_form_offers_the_condition_for_session_events_with_its_help(manager_client):
    page = manager_client.get(ADD).content.decode()
    assert 'name="only_booked_by"' in page
    events = "session_cancelled,session_created,session_late_cancelled,session_moved,session_no_show,session_scheduled"
    assert f'data-session-events="{events}"' in page
    assert "only sessions the client booked in the portal" in page

    assert manager_client.post(ADD, form()).status_code == 302
    assert AutomationRule.objects.get().only_booked_by == "client"


def test_the_condition_is_refused_on_an_event_that_is_not_a_sessions(manager_client):
    response = manager_client.post(ADD, form(trigger_event="birthday"))
    assert response.status_code == 200
    assert "Only session events know who booked" in response.content.decode()
    assert not AutomationRule.objects.exists()
