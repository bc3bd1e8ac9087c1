"""prune_history: history is bounded, and nothing that could still fire loses its guard row."""

from datetime import timedelta
from io import StringIO

import pytest
import time_machine
from django.core.management import call_command
from django.core.management.base import CommandError
from django_q.models import Schedule

from automation import schedules
from automation.models import AutomationLog, TriggerEvent
from automation.retention import is_spent, prune_history
from automation.scan import scan
from automation.tasks import prune_history as prune_task
from messaging.models import Message, MessageEvent
from tests.factories import ClientFactory, SessionFactory
from tests.support.clock import utc

pytestmark = pytest.mark.django_db

NOW = utc(2029, 6, 15, 12, 0)
OLD = NOW - timedelta(days=800)  # before a 730-day retention
RECENT = NOW - timedelta(days=100)
CUTOFF = NOW - timedelta(days=730)


def message_at(moment, status, **fields):
    with time_machine.travel(moment, tick=False):
        message = Message.objects.create(
            client=fields.pop("client", None) or ClientFactory(),
            channel="sms",
            body="Hi",
            status=status,
            **fields,
        )
        MessageEvent.objects.create(message=message, status=status, source="worker")
    return message


def log_at(moment, rule, key, message=None):
    with time_machine.travel(moment, tick=False):
        return AutomationLog.objects.create(rule=rule, occurrence_key=key, status="sent", message=message)


def prune(**kwargs):
    with time_machine.travel(NOW, tick=False):
        return prune_history(**kwargs)


@pytest.mark.parametrize(
    ("key", "spent"),
    [
        ("session:7:created", True),
        ("session:7:cancelled", True),
        ("payment:7:created", True),
        ("payment:7:overdue+0h", True),
        ("payment:7:overdue+168h", True),
        # Reminders: only once their moment is before the cutoff as well.
        ("session:7:start=2027-06-01T09:00Z", True),
        ("session:7:start=2027-06-16T12:00:30.000000Z", False),  # just after the cutoff
        ("session:7:start=2029-07-01T09:00Z", False),  # still ahead
        ("payment:7:due=2027-06-01", True),
        ("payment:7:due=2027-06-15", False),
        ("birthday:client:7:2026", True),
        ("birthday:client:7:2027", False),  # the cutoff's own year
        # Keys this module does not know are never pruned.
        ("payment:7:cancelled", False),
        ("session:7:start=garbage", False),
        ("inactive:client:7:2026", False),
        ("session:7:created:extra", False),
    ],
)
def test_only_occurrences_that_can_never_fire_again_are_spent(key, spent):
    assert is_spent(key, CUTOFF) is spent


def test_finished_messages_older_than_the_retention_go_with_their_history():
    old = {
        status: message_at(OLD, status)
        for status in ["sent", "delivered", "failed", "suppressed", "received"]
    }
    recent = message_at(RECENT, "delivered")
    result = prune()
    assert result["messages"] == len(old)
    assert result["message_events"] == len(old)
    assert list(Message.objects.all()) == [recent]
    assert MessageEvent.objects.count() == 1


def test_queued_and_sending_messages_are_kept_however_old():
    queued, sending = message_at(OLD, "queued"), message_at(OLD, "sending")
    prune()
    assert set(Message.objects.all()) == {queued, sending}


def test_a_message_changed_since_the_cutoff_is_kept():
    message = message_at(OLD, "sent")
    Message.objects.filter(pk=message.pk).update(updated_at=RECENT)  # a late delivery receipt
    prune()
    assert Message.objects.filter(pk=message.pk).exists()


def test_events_of_no_message_go_when_old():
    with time_machine.travel(OLD, tick=False):
        MessageEvent.objects.create(message=None, status="delivered", source="esp", event_id="evt-1")
    with time_machine.travel(RECENT, tick=False):
        MessageEvent.objects.create(message=None, status="delivered", source="esp", event_id="evt-2")
    prune()
    assert list(MessageEvent.objects.values_list("event_id", flat=True)) == ["evt-2"]


def test_spent_log_rows_go_and_rows_that_still_guard_an_occurrence_stay(make_rule):
    rule = make_rule(TriggerEvent.SESSION_SCHEDULED, created_at=OLD - timedelta(days=10))
    spent_message = message_at(OLD, "sent")
    spent = log_at(OLD, rule, "session:1:start=2027-01-01T09:00Z", message=spent_message)
    ahead = log_at(OLD, rule, "session:2:start=2029-09-01T09:00Z", message=message_at(OLD, "sent"))
    recent = log_at(RECENT, rule, "session:3:created")
    result = prune()
    assert result["automation_logs"] == 1
    assert not AutomationLog.objects.filter(pk=spent.pk).exists()
    assert set(AutomationLog.objects.all()) == {ahead, recent}
    # The guard row of a reminder still ahead stays, even though its message went.
    ahead.refresh_from_db()
    assert ahead.message is None


def test_a_reminder_whose_guard_row_was_pruned_is_not_sent_again(make_rule):
    """The double-send the once-only rule exists to prevent, checked end to end."""
    rule = make_rule(TriggerEvent.SESSION_SCHEDULED, offset_hours=24, created_at=utc(2026, 1, 1))
    starts_at = utc(2027, 3, 2, 9, 0)
    with time_machine.travel(starts_at - timedelta(days=10), tick=False):
        session = SessionFactory(starts_at=starts_at)
    for moment in (starts_at - timedelta(hours=24), starts_at - timedelta(hours=23, minutes=55)):
        with time_machine.travel(moment, tick=False):
            scan()
    assert Message.objects.filter(session=session, rule=rule).count() == 1
    Message.objects.update(status="delivered")

    assert prune()["automation_logs"] == 1
    assert not AutomationLog.objects.exists()
    with time_machine.travel(NOW, tick=False):
        scan()
        # Replaying the old window by hand would find the occurrence again: refused.
        with pytest.raises(CommandError, match="history before then has been pruned"):
            call_command("run_triggers", "--now", (starts_at - timedelta(hours=24)).isoformat())
        # Past the recorded cutoff and the catch-up window, a replay is fine.
        call_command("run_triggers", "--now", (CUTOFF + timedelta(hours=49)).isoformat(), stdout=StringIO())
    assert not AutomationLog.objects.exists()
    assert not Message.objects.filter(session=session).exclude(status="delivered").exists()


def test_retention_below_the_minimum_is_refused():
    with pytest.raises(ValueError, match="at least 35 days"):
        prune(days=20)
    with pytest.raises(CommandError, match="at least 35 days"):
        call_command("prune_history", "--older-than-days", "20")


def test_zero_retention_keeps_everything(settings):
    settings.MESSAGING_RETENTION_DAYS = 0
    message_at(OLD, "sent")
    assert prune()["cutoff"] is None
    assert Message.objects.count() == 1


def test_the_command_reports_and_a_dry_run_deletes_nothing(capsys, settings):
    settings.MESSAGING_RETENTION_DAYS = 730
    message_at(OLD, "sent")
    with time_machine.travel(NOW, tick=False):
        call_command("prune_history", "--dry-run")
        assert (
            "would delete 1 message(s), 1 message event(s), 0 automation log row(s)"
            in capsys.readouterr().out
        )
        assert Message.objects.count() == 1
        call_command("prune_history", "--older-than-days", "365")
    assert "deleted 1 message(s)" in capsys.readouterr().out
    assert not Message.objects.exists()


def test_the_daily_schedule_exists_and_runs_the_task(settings):
    schedule = Schedule.objects.get(name=schedules.PRUNE_SCHEDULE_NAME)  # made by migrate
    assert (schedule.func, schedule.minutes) == ("automation.tasks.prune_history", 24 * 60)
    settings.MESSAGING_RETENTION_DAYS = 730
    message_at(OLD, "sent")
    with time_machine.travel(NOW, tick=False):
        assert "messages: 1" in prune_task()
    assert not Message.objects.exists()


def test_pruning_twice_at_once_is_harmless():
    message_at(OLD, "sent")
    assert prune()["messages"] == 1
    assert prune()["messages"] == 0


def test_a_dry_run_records_no_cutoff_and_the_cutoff_only_moves_forward():
    from automation.retention import pruned_before

    prune(dry_run=True)
    assert pruned_before() is None
    prune()
    assert pruned_before() == CUTOFF
    prune(days=1000)
    assert pruned_before() == CUTOFF
