"""The client's calendar follows the session: booking, move and cancellation emails carry an
.ics (REQUEST / CANCEL, one UID, growing SEQUENCE); a moved session is told once and its
reminder follows the new time."""

from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from icalendar import Calendar

from automation import scan
from automation.models import AutomationLog, TriggerEvent
from clients.models import Channel
from messaging.models import Message
from messaging.services import deliver_due
from scheduling import ics
from scheduling import services as scheduling
from scheduling.calendar.services import calendar_move
from tests.factories import ClientFactory
from tests.support.clock import utc

pytestmark = pytest.mark.django_db

NOW = utc(2026, 11, 25, 10, 0)


@pytest.fixture(autouse=True)
def frozen(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def email_rules(make_rule):
    return {
        event: make_rule(
            event,
            channel=Channel.EMAIL,
            subject_template=f"{event} {{{{ session_date }}}} {{{{ session_time }}}}",
            body_template="Hi {{ first_name }}, {{ session_date }} at {{ session_time }}",
        )
        for event in (
            TriggerEvent.SESSION_CREATED,
            TriggerEvent.SESSION_MOVED,
            TriggerEvent.SESSION_CANCELLED,
        )
    }


def parsed(attachment: dict):
    calendar = Calendar.from_ical(attachment["content"])
    (event,) = calendar.walk("VEVENT")
    return str(calendar["METHOD"]), str(event["UID"]), int(event["SEQUENCE"]), event


def test_booking_moving_and_cancelling_each_send_the_session_as_an_invitation(
    client_obj, email_rules, q_sync, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        session = scheduling.session_book(
            trainer=client_obj.trainer, client=client_obj, starts_at=NOW + timedelta(days=3)
        )
    with django_capture_on_commit_callbacks(execute=True):
        calendar_move(session=session, starts_at=NOW + timedelta(days=4), duration_minutes=60)
    with django_capture_on_commit_callbacks(execute=True):
        scheduling.session_cancel(session=session)

    booked, moved, cancelled = Message.objects.filter(client=client_obj).order_by("pk")
    uid = ics.session_uid(session.pk)
    method, got_uid, sequence, event = parsed(booked.attachments[0])
    assert (method, got_uid, sequence) == ("REQUEST", uid, 0)
    assert event.decoded("DTSTART") == NOW + timedelta(days=3)
    method, got_uid, sequence, event = parsed(moved.attachments[0])
    assert (method, got_uid, sequence) == ("REQUEST", uid, 1)
    assert event.decoded("DTSTART") == NOW + timedelta(days=4)
    method, got_uid, sequence, event = parsed(cancelled.attachments[0])
    assert (method, got_uid, sequence, str(event["STATUS"])) == ("CANCEL", uid, 2, "CANCELLED")
    assert booked.attachments[0]["content_type"] == "text/calendar; method=REQUEST"
    assert cancelled.attachments[0]["content_type"] == "text/calendar; method=CANCEL"

    # The email that leaves carries it, as text/calendar with its method.
    deliver_due(limit=10)
    assert len(mail.outbox) == 3
    sent = mail.outbox[2]
    assert sent.attachments[0][0] == f"session-{session.pk}.ics"
    (part,) = [p for p in sent.message().walk() if p.get_content_type() == "text/calendar"]
    assert part.get_param("method") == "CANCEL"
    assert part.get_filename() == f"session-{session.pk}.ics"
    name, content, mimetype = sent.attachments[0]
    assert Calendar.from_ical(content)["METHOD"] == "CANCEL"


def test_sms_and_in_app_rules_carry_no_attachment(
    client_obj, make_rule, q_sync, django_capture_on_commit_callbacks
):
    make_rule(TriggerEvent.SESSION_CREATED, channel=Channel.SMS)
    with django_capture_on_commit_callbacks(execute=True):
        scheduling.session_book(
            trainer=client_obj.trainer, client=client_obj, starts_at=NOW + timedelta(days=3)
        )
    assert Message.objects.get().attachments == []


def test_a_move_is_told_once_and_the_reminder_follows_the_new_time(
    client_obj, make_rule, q_sync, django_capture_on_commit_callbacks
):
    moved_rule = make_rule(
        TriggerEvent.SESSION_MOVED, channel=Channel.EMAIL, body_template="New time {{ session_time }}"
    )
    reminder = make_rule(
        TriggerEvent.SESSION_SCHEDULED, offset_hours=24, body_template="Tomorrow {{ session_time }}"
    )
    old_start, new_start = NOW + timedelta(days=3), NOW + timedelta(days=5)
    with django_capture_on_commit_callbacks(execute=True):
        session = scheduling.session_book(trainer=client_obj.trainer, client=client_obj, starts_at=old_start)
    with django_capture_on_commit_callbacks(execute=True):
        calendar_move(session=session, starts_at=new_start, duration_minutes=60)

    told = Message.objects.filter(rule=moved_rule)
    assert told.count() == 1
    # The same event again (a retried task, a second worker) sends nothing more.
    from automation.services import SESSION_MOVED, handle_event

    handle_event(event=SESSION_MOVED, pk=session.pk)
    assert told.count() == 1

    # The old reminder time passes quietly; the new one reminds once.
    scan.scan(now=old_start - timedelta(hours=24, minutes=-1))
    assert not Message.objects.filter(rule=reminder).exists()
    scan.scan(now=new_start - timedelta(hours=24, minutes=-1))
    (sent,) = Message.objects.filter(rule=reminder)
    assert sent.body == "Tomorrow 10:00"
    assert AutomationLog.objects.filter(rule=reminder, status="sent").count() == 1


def test_two_quick_moves_tell_the_client_once_with_the_newest_time(
    client_obj, make_rule, q_sync, django_capture_on_commit_callbacks
):
    make_rule(TriggerEvent.SESSION_MOVED, channel=Channel.EMAIL, body_template="New time {{ session_date }}")
    session = scheduling.session_book(
        trainer=client_obj.trainer, client=client_obj, starts_at=NOW + timedelta(days=3)
    )
    # Both moves commit before the worker gets to the first one.
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        calendar_move(session=session, starts_at=NOW + timedelta(days=4), duration_minutes=60)
        calendar_move(session=session, starts_at=NOW + timedelta(days=6), duration_minutes=60)
    for callback in callbacks:
        callback()
    # The worker reads the session as it is now: both events name its newest version.
    (message,) = Message.objects.filter(rule__trigger_event=TriggerEvent.SESSION_MOVED)
    (log,) = AutomationLog.objects.filter(rule__trigger_event=TriggerEvent.SESSION_MOVED)
    assert log.occurrence_key == f"session:{session.pk}:moved#2" and log.message == message
    assert parsed(message.attachments[0])[3].decoded("DTSTART") == NOW + timedelta(days=6)


def test_a_move_told_late_is_skipped_when_the_session_moved_again(client_obj, make_rule):
    from automation import engine
    from automation.engine import Occurrence

    rule = make_rule(TriggerEvent.SESSION_MOVED, channel=Channel.EMAIL, body_template="New time")
    session = scheduling.session_book(
        trainer=client_obj.trainer, client=client_obj, starts_at=NOW + timedelta(days=3)
    )
    calendar_move(session=session, starts_at=NOW + timedelta(days=4), duration_minutes=60)
    stale = Occurrence(
        rule=rule,
        key=engine.session_moved_key(session.pk, 0),
        client_id=client_obj.pk,
        session_id=session.pk,
        expect_sequence=0,
    )
    engine.fire_occurrences([stale], now=NOW)
    assert not Message.objects.exists()
    assert "moved again" in AutomationLog.objects.get().error


def test_a_new_client_in_another_zone_gets_utc_times(make_rule, q_sync, django_capture_on_commit_callbacks):
    make_rule(TriggerEvent.SESSION_CREATED, channel=Channel.EMAIL, body_template="Booked")
    client = ClientFactory(timezone="America/New_York")
    with django_capture_on_commit_callbacks(execute=True):
        session = scheduling.session_book(
            trainer=client.trainer, client=client, starts_at=utc(2027, 3, 29, 9, 0)
        )  # after London's change, after New York's
    _, _, _, event = parsed(Message.objects.get().attachments[0])
    assert event["DTSTART"].to_ical() == b"20270329T090000Z"
    assert event.decoded("DTEND") == session.ends_at
