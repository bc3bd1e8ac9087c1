"""One message where one is meant: a weekly series is confirmed once; a rule may merge
occurrences for one client that fall due together, and never drops one."""

from datetime import timedelta

import pytest
import time_machine

from automation import engine, services
from automation.models import AutomationLog, TriggerEvent
from clients.models import Channel
from messaging.models import Message
from scheduling import services as scheduling
from tests.factories import ClientFactory, SessionFactory
from tests.support.clock import utc

pytestmark = pytest.mark.django_db

NOW = utc(2026, 11, 25, 10, 0)
FIRST = utc(2026, 12, 1, 9, 0)  # Tuesdays, 09:00 in London


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


def book_series(client, weeks=4, **kwargs):
    return scheduling.session_book_weekly_series(
        trainer=client.trainer,
        client=client,
        first_starts_at=FIRST,
        occurrences=weeks,
        location="Room 1",
        **kwargs,
    )


def test_a_weekly_series_is_confirmed_once_listing_its_dates(
    client_obj, make_rule, q_sync, django_capture_on_commit_callbacks
):
    rule = make_rule(TriggerEvent.SESSION_CREATED, body_template="Booked from {{ session_date }}.")
    with django_capture_on_commit_callbacks(execute=True):
        result = book_series(client_obj)
    assert len(result.booked) == 4

    message = Message.objects.get()  # one, not four
    assert message.body == (
        "Booked from Tuesday 1 December 2026.\n\n"
        "All 4 sessions:\n"
        "- Tue 01 Dec 2026, 09:00 (Room 1)\n"
        "- Tue 08 Dec 2026, 09:00 (Room 1)\n"
        "- Tue 15 Dec 2026, 09:00 (Room 1)\n"
        "- Tue 22 Dec 2026, 09:00 (Room 1)"
    )
    assert message.session == result.booked[0]
    assert message.not_after == utc(2026, 12, 22, 9, 0)  # worth sending while any is ahead
    logs = AutomationLog.objects.filter(rule=rule).order_by("occurrence_key")
    # Every session keeps its own once-only row; all point at the one message and say so.
    assert {log.occurrence_key for log in logs} == {f"session:{s.pk}:created" for s in result.booked}
    assert {(log.status, log.message_id, log.note) for log in logs} == {
        ("sent", message.pk, "one message for 4 sessions")
    }


def test_the_series_events_arriving_again_send_nothing_more(
    client_obj, make_rule, django_capture_on_commit_callbacks
):
    make_rule(TriggerEvent.SESSION_CREATED)
    result = book_series(client_obj, weeks=3)
    outcomes = [services.handle_event(event=services.SESSION_CREATED, pk=s.pk) for s in result.booked]
    outcomes += [services.handle_event(event=services.SESSION_CREATED, pk=result.booked[1].pk)]
    assert Message.objects.count() == 1
    assert [o.total("sent") for o in outcomes] == [3, 0, 0, 0]
    assert [o.total(engine.ALREADY) for o in outcomes] == [0, 3, 3, 3]


def test_a_series_email_carries_each_sessions_invitation(client_obj, make_rule):
    make_rule(TriggerEvent.SESSION_CREATED, channel=Channel.EMAIL, subject_template="Booked")
    result = book_series(client_obj, weeks=3)
    services.handle_event(event=services.SESSION_CREATED, pk=result.booked[0].pk)
    message = Message.objects.get()
    assert len(message.attachments) == 3
    assert len({a["content"] for a in message.attachments}) == 3


def test_a_cancelled_week_is_left_out_and_logged_as_skipped(client_obj, make_rule):
    make_rule(TriggerEvent.SESSION_CREATED)
    result = book_series(client_obj, weeks=3)
    scheduling.session_cancel(session=result.booked[1])
    services.handle_event(event=services.SESSION_CREATED, pk=result.booked[0].pk)
    assert "All 2 sessions" in Message.objects.get().body
    assert AutomationLog.objects.filter(status="skipped").count() == 0  # cancelled ones are not gathered


def test_single_bookings_still_get_one_message_each(client_obj, make_rule):
    make_rule(TriggerEvent.SESSION_CREATED)
    first = SessionFactory(client=client_obj, starts_at=FIRST)
    second = SessionFactory(client=client_obj, starts_at=FIRST + timedelta(days=2))
    for session in (first, second):
        services.handle_event(event=services.SESSION_CREATED, pk=session.pk)
    assert Message.objects.count() == 2
    assert not AutomationLog.objects.exclude(note="").exists()


def test_with_a_merge_window_bookings_made_together_go_as_one_message(client_obj, make_rule):
    make_rule(TriggerEvent.SESSION_CREATED, merge_minutes=5)
    first = SessionFactory(client=client_obj, starts_at=FIRST)
    with time_machine.travel(NOW + timedelta(minutes=3), tick=False):
        second = SessionFactory(client=client_obj, starts_at=FIRST + timedelta(days=2))
    with time_machine.travel(NOW + timedelta(minutes=30), tick=False):
        late = SessionFactory(client=client_obj, starts_at=FIRST + timedelta(days=4))
    other_client = SessionFactory(client=ClientFactory(trainer=client_obj.trainer), starts_at=FIRST)

    with time_machine.travel(NOW + timedelta(minutes=31), tick=False):
        for session in (first, second, late, other_client):
            services.handle_event(event=services.SESSION_CREATED, pk=session.pk)
    bodies = sorted(Message.objects.filter(client=client_obj).values_list("body", flat=True))
    assert len(bodies) == 2  # first + second together; the one 30 minutes later on its own
    assert sum("All 2 sessions" in body for body in bodies) == 1
    assert Message.objects.filter(client=other_client.client).count() == 1
    assert AutomationLog.objects.count() == 4  # every occurrence logged, none dropped


def test_the_scan_merges_reminders_due_together_for_one_client(client_obj, make_rule):
    from automation.scan import scan

    make_rule(TriggerEvent.SESSION_SCHEDULED, offset_hours=24, merge_minutes=10)
    # A warm-up and a class with another trainer, two minutes apart: reminders due together.
    a = SessionFactory(client=client_obj, starts_at=NOW + timedelta(hours=24, minutes=2))
    b = SessionFactory(client=client_obj, starts_at=NOW + timedelta(hours=24, minutes=4), location="Pool")
    scan(now=NOW)
    with time_machine.travel(NOW + timedelta(minutes=5), tick=False):
        scan(now=NOW + timedelta(minutes=5))
    message = Message.objects.get()
    assert "All 2 sessions" in message.body and "(Pool)" in message.body
    logs = AutomationLog.objects.all()
    assert {log.occurrence_key.split(":start")[0] for log in logs} == {f"session:{a.pk}", f"session:{b.pk}"}
    assert {(log.message_id, log.note) for log in logs} == {(message.pk, "one message for 2 sessions")}
