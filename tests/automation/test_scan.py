"""The time-based scan: on time, once, catching up, never stale."""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.management import call_command
from django.core.management.base import CommandError

from automation.models import AutomationLog, ScanState, TriggerEvent
from automation.scan import scan
from billing.models import Payment
from messaging.models import Message
from scheduling.models import Session
from tests.factories import ClientFactory, PaymentFactory, SessionFactory, TrainerFactory
from tests.support.clock import utc

pytestmark = pytest.mark.django_db

LONG_AGO = utc(2026, 1, 1)


def scan_at(moment, **kwargs):
    with time_machine.travel(moment, tick=False):
        return scan(**kwargs)


def every_five_minutes(start, end):
    moment = start
    while moment <= end:
        scan_at(moment)
        moment += timedelta(minutes=5)


@pytest.fixture
def reminder(make_rule):
    return make_rule(
        TriggerEvent.SESSION_SCHEDULED,
        offset_hours=24,
        body_template="See you {{ session_date }} at {{ session_time }}",
        created_at=LONG_AGO,
    )


def session_at(starts_at, **kwargs):
    with time_machine.travel(starts_at - timedelta(days=10), tick=False):
        return SessionFactory(starts_at=starts_at, **kwargs)


# --- Session reminders -------------------------------------------------------------------------


def test_reminder_fires_once_at_its_time(reminder):
    session = session_at(utc(2026, 12, 2, 9, 0))
    every_five_minutes(utc(2026, 12, 1, 8, 30), utc(2026, 12, 1, 8, 55))
    assert not Message.objects.exists()
    every_five_minutes(utc(2026, 12, 1, 9, 0), utc(2026, 12, 1, 10, 0))
    message = Message.objects.get()
    assert message.session == session and message.rule == reminder
    assert message.not_after == session.starts_at
    assert message.body == "See you Wednesday 2 December 2026 at 09:00"
    assert AutomationLog.objects.get().occurrence_key == f"session:{session.pk}:start=2026-12-02T09:00Z"


def test_reminder_is_sent_once_when_two_scans_overlap(reminder):
    session_at(utc(2026, 12, 2, 9, 0))
    scan_at(utc(2026, 12, 1, 8, 50))
    ScanState.objects.update(scanned_until=utc(2026, 12, 1, 8, 0))  # a slow scan still running
    result_a = scan_at(utc(2026, 12, 1, 9, 1))
    ScanState.objects.update(scanned_until=utc(2026, 12, 1, 8, 0))
    result_b = scan_at(utc(2026, 12, 1, 9, 2))
    assert result_a.fired.total("sent") == 1
    assert result_b.fired.total("already") == 1 and result_b.fired.total("sent") == 0
    assert Message.objects.count() == 1


def test_reminders_across_a_dst_change_fire_once_at_the_right_absolute_time(reminder):
    london = ZoneInfo("Europe/London")
    # Clocks go back at 02:00 BST on Sunday 25 October 2026; the session is 09:00 GMT on Monday.
    session = session_at(datetime(2026, 10, 26, 9, 0, tzinfo=london))
    due = session.starts_at - timedelta(hours=24)  # 09:00 UTC Sunday = 09:00 GMT, i.e. 24 real hours
    every_five_minutes(due - timedelta(hours=3), due - timedelta(minutes=5))
    assert not Message.objects.exists()
    every_five_minutes(due, due + timedelta(hours=2))
    assert Message.objects.count() == 1
    assert AutomationLog.objects.get().created_at == due


def test_dst_spring_forward_reminder_fires_24_real_hours_before(reminder):
    london = ZoneInfo("Europe/London")
    # Clocks go forward on Sunday 29 March 2026; 08:00 BST Monday is 07:00 UTC.
    session = session_at(datetime(2026, 3, 30, 8, 0, tzinfo=london))
    every_five_minutes(utc(2026, 3, 29, 6, 0), utc(2026, 3, 29, 6, 55))
    assert not Message.objects.exists()
    every_five_minutes(utc(2026, 3, 29, 7, 0), utc(2026, 3, 29, 8, 0))
    assert Message.objects.get().session == session
    assert Message.objects.get().body == "See you Monday 30 March 2026 at 08:00"


def test_scan_catches_up_after_an_outage(reminder):
    soon = session_at(utc(2026, 12, 2, 10, 0))  # due 10:00 on the 1st, during the outage
    later = session_at(utc(2026, 12, 2, 11, 30))  # due 11:30, after it
    scan_at(utc(2026, 12, 1, 9, 0))
    # Down from 09:00 to 11:00.
    result = scan_at(utc(2026, 12, 1, 11, 0))
    assert result.window_start == utc(2026, 12, 1, 9, 0)
    assert list(Message.objects.values_list("session", flat=True)) == [soon.pk]
    scan_at(utc(2026, 12, 1, 11, 30))
    assert set(Message.objects.values_list("session", flat=True)) == {soon.pk, later.pk}


def test_catch_up_never_sends_for_a_session_that_already_started(make_rule):
    make_rule(TriggerEvent.SESSION_SCHEDULED, offset_hours=2, created_at=LONG_AGO)
    started = session_at(utc(2026, 12, 1, 10, 0))  # due 08:00, starts 10:00
    scan_at(utc(2026, 12, 1, 7, 0))
    scan_at(utc(2026, 12, 1, 10, 30))  # back after the session started
    assert not Message.objects.filter(session=started).exists()


def test_nothing_for_cancelled_or_past_sessions(reminder):
    cancelled = session_at(utc(2026, 12, 2, 9, 0), status=Session.Status.CANCELLED)
    scan_at(utc(2026, 12, 1, 8, 58))
    scan_at(utc(2026, 12, 1, 9, 3))
    assert not Message.objects.filter(session=cancelled).exists()


def test_session_cancelled_after_it_was_found_is_skipped_at_the_recheck(reminder):
    from automation import engine
    from automation.scan import find_session_reminders

    session = session_at(utc(2026, 12, 2, 9, 0))
    now = utc(2026, 12, 1, 9, 1)
    found = find_session_reminders([reminder], utc(2026, 12, 1, 8, 55), now)
    assert len(found) == 1
    Session.objects.filter(pk=session.pk).update(status=Session.Status.CANCELLED)
    engine.fire_occurrences(found, now=now)
    log = AutomationLog.objects.get()
    assert (log.status, log.error) == ("skipped", "session cancelled")
    assert not Message.objects.exists()


def test_moved_session_gets_its_reminder_at_the_new_time_only(reminder):
    session = session_at(utc(2026, 12, 2, 9, 0))
    Session.objects.filter(pk=session.pk).update(starts_at=utc(2026, 12, 3, 9, 0))
    every_five_minutes(utc(2026, 12, 1, 8, 50), utc(2026, 12, 1, 9, 30))
    assert not Message.objects.exists()
    every_five_minutes(utc(2026, 12, 2, 8, 50), utc(2026, 12, 2, 9, 30))
    assert Message.objects.get().body == "See you Thursday 3 December 2026 at 09:00"
    assert AutomationLog.objects.get().occurrence_key == f"session:{session.pk}:start=2026-12-03T09:00Z"


def test_session_moved_after_its_reminder_gets_a_second_one(reminder):
    session = session_at(utc(2026, 12, 2, 9, 0))
    every_five_minutes(utc(2026, 12, 1, 8, 55), utc(2026, 12, 1, 9, 5))
    Session.objects.filter(pk=session.pk).update(starts_at=utc(2026, 12, 4, 9, 0))
    every_five_minutes(utc(2026, 12, 3, 8, 55), utc(2026, 12, 3, 9, 5))
    assert Message.objects.count() == 2


def test_each_session_of_a_weekly_series_gets_its_own_reminder(reminder):
    from scheduling.services import session_book_weekly_series

    client = ClientFactory()
    with time_machine.travel(utc(2026, 11, 20), tick=False):
        series = session_book_weekly_series(
            trainer=client.trainer, client=client, first_starts_at=utc(2026, 12, 2, 9, 0), occurrences=3
        )
    assert len(series.booked) == 3
    for week in range(3):
        every_five_minutes(
            utc(2026, 12, 1, 8, 55) + timedelta(weeks=week), utc(2026, 12, 1, 9, 5) + timedelta(weeks=week)
        )
    assert Message.objects.count() == 3


def test_rule_never_fires_for_what_fell_due_before_it_existed(make_rule):
    session_at(utc(2026, 12, 2, 9, 0))
    scan_at(utc(2026, 12, 1, 8, 0))
    make_rule(TriggerEvent.SESSION_SCHEDULED, offset_hours=24, created_at=utc(2026, 12, 1, 9, 30))
    scan_at(utc(2026, 12, 1, 10, 0))  # the window reaches back to 08:00, the rule only to 09:30
    assert not Message.objects.exists()


def test_inactive_rule_never_fires(make_rule):
    make_rule(TriggerEvent.SESSION_SCHEDULED, offset_hours=24, created_at=LONG_AGO, is_active=False)
    session_at(utc(2026, 12, 2, 9, 0))
    every_five_minutes(utc(2026, 12, 1, 8, 55), utc(2026, 12, 1, 9, 5))
    assert not AutomationLog.objects.exists()


def test_trainer_scoped_reminder_ignores_other_trainers_clients(make_rule):
    from tests.factories import TrainerFactory

    anna = TrainerFactory(username="anna")
    make_rule(TriggerEvent.SESSION_SCHEDULED, offset_hours=24, created_at=LONG_AGO, trainer=anna)
    mine = session_at(utc(2026, 12, 2, 9, 0), client=ClientFactory(trainer=anna))
    session_at(utc(2026, 12, 2, 10, 0))
    every_five_minutes(utc(2026, 12, 1, 8, 55), utc(2026, 12, 1, 10, 5))
    assert list(Message.objects.values_list("session", flat=True)) == [mine.pk]
    assert AutomationLog.objects.count() == 1


# --- Payments ------------------------------------------------------------------------------------


def test_overdue_transition_by_the_scan_fires_once(make_rule):
    rule = make_rule(
        TriggerEvent.PAYMENT_OVERDUE, body_template="{{ amount }} was due {{ due_date }}", created_at=LONG_AGO
    )
    with time_machine.travel(utc(2026, 11, 1), tick=False):
        payment = PaymentFactory(due_date=date(2026, 11, 30))
    scan_at(utc(2026, 11, 30, 23, 55))  # still the 30th in London
    assert Payment.objects.get().status == "pending"
    result = scan_at(utc(2026, 12, 1, 0, 0))
    assert result.turned_overdue == 1
    payment.refresh_from_db()
    assert (payment.status, payment.overdue_at) == ("overdue", utc(2026, 12, 1, 0, 0))
    every_five_minutes(utc(2026, 12, 1, 0, 5), utc(2026, 12, 1, 1, 0))
    assert Message.objects.get().rule == rule
    assert AutomationLog.objects.get().occurrence_key == f"payment:{payment.pk}:overdue+0h"


def test_overdue_transition_uses_the_studio_zone(settings, make_rule):
    settings.STUDIO_TIME_ZONE = "America/New_York"
    with time_machine.travel(utc(2026, 11, 1), tick=False):
        PaymentFactory(due_date=date(2026, 11, 30))
    scan_at(utc(2026, 12, 1, 3, 0))  # 22:00 on the 30th in New York
    assert Payment.objects.get().status == "pending"
    scan_at(utc(2026, 12, 1, 5, 0))  # midnight in New York
    assert Payment.objects.get().status == "overdue"


def test_escalating_overdue_offsets_fire_each_once_in_order(make_rule):
    for days in (1, 7, 14):
        make_rule(
            TriggerEvent.PAYMENT_OVERDUE, name=f"day {days}", offset_hours=24 * days, created_at=LONG_AGO
        )
    with time_machine.travel(utc(2026, 11, 1), tick=False):
        payment = PaymentFactory(due_date=date(2026, 11, 30))
    turned = utc(2026, 12, 1, 0, 0)
    scan_at(turned)
    for day in range(0, 16):
        # A scan an hour, for sixteen days.
        for hour in range(24):
            scan_at(turned + timedelta(days=day, hours=hour, minutes=5))
    logs = list(
        AutomationLog.objects.order_by("created_at").values_list("rule__name", "occurrence_key", "created_at")
    )
    assert [(name, key) for name, key, _ in logs] == [
        ("day 1", f"payment:{payment.pk}:overdue+24h"),
        ("day 7", f"payment:{payment.pk}:overdue+168h"),
        ("day 14", f"payment:{payment.pk}:overdue+336h"),
    ]
    assert [at - turned for _, _, at in logs] == [timedelta(days=d, minutes=5) for d in (1, 7, 14)]


def test_paid_payment_gets_no_more_escalation(make_rule):
    make_rule(TriggerEvent.PAYMENT_OVERDUE, offset_hours=72, created_at=LONG_AGO)
    with time_machine.travel(utc(2026, 11, 1), tick=False):
        PaymentFactory(due_date=date(2026, 11, 30))
    scan_at(utc(2026, 12, 1, 0, 0))
    Payment.objects.update(status="paid", paid_at=utc(2026, 12, 2))
    scan_at(utc(2026, 12, 4, 0, 5))
    assert not Message.objects.exists()


def test_payment_due_reminder_fires_before_the_due_date(settings, make_rule):
    settings.PAYMENT_DUE_LOCAL_HOUR = 9
    rule = make_rule(TriggerEvent.PAYMENT_DUE, offset_hours=48, created_at=LONG_AGO)
    with time_machine.travel(utc(2026, 11, 1), tick=False):
        payment = PaymentFactory(due_date=date(2026, 12, 3))
    every_five_minutes(utc(2026, 12, 1, 8, 30), utc(2026, 12, 1, 9, 30))  # 09:00 GMT, two days before
    log = AutomationLog.objects.get()
    assert (log.rule, log.occurrence_key, log.created_at) == (
        rule,
        f"payment:{payment.pk}:due=2026-12-03",
        utc(2026, 12, 1, 9, 0),
    )


# --- Birthdays -----------------------------------------------------------------------------------


@pytest.fixture
def birthday_rule(make_rule):
    return make_rule(
        TriggerEvent.BIRTHDAY, channel="email", subject_template="Happy birthday!", created_at=LONG_AGO
    )


def test_birthday_fires_at_the_local_hour_in_the_clients_zone(settings, birthday_rule):
    settings.BIRTHDAY_LOCAL_HOUR = 9
    # 09:00 on 2 December in Sydney is 22:00 on 1 December in UTC (and London).
    client = ClientFactory(birth_date=date(1990, 12, 2), timezone="Australia/Sydney", email_marketing=True)
    every_five_minutes(utc(2026, 12, 1, 21, 0), utc(2026, 12, 1, 21, 55))
    assert not Message.objects.exists()
    every_five_minutes(utc(2026, 12, 1, 22, 0), utc(2026, 12, 1, 22, 30))
    for hour in range(23, 36):  # and on through the day, hourly
        scan_at(utc(2026, 12, 1) + timedelta(hours=hour))
    log = AutomationLog.objects.get()
    assert (log.client, log.occurrence_key, log.created_at) == (
        client,
        f"birthday:client:{client.pk}:2026",
        utc(2026, 12, 1, 22, 0),
    )
    assert log.message.category == "marketing"


def test_birthday_needs_marketing_consent(birthday_rule):
    client = ClientFactory(birth_date=date(1990, 12, 1), email_marketing=False)
    every_five_minutes(utc(2026, 12, 1, 8, 55), utc(2026, 12, 1, 9, 5))
    log = AutomationLog.objects.get()
    assert (log.client, log.status, log.error) == (client, "skipped", "no consent to marketing email")


def test_29_february_birthday_fires_on_28_february_in_other_years(birthday_rule):
    leapling = ClientFactory(birth_date=date(2000, 2, 29), email_marketing=True)
    every_five_minutes(utc(2027, 2, 28, 8, 55), utc(2027, 2, 28, 9, 5))
    every_five_minutes(utc(2027, 3, 1, 8, 55), utc(2027, 3, 1, 9, 5))
    assert list(AutomationLog.objects.values_list("client", "occurrence_key", "created_at")) == [
        (leapling.pk, f"birthday:client:{leapling.pk}:2027", utc(2027, 2, 28, 9, 0))
    ]
    AutomationLog.objects.all().delete()
    Message.objects.all().delete()
    every_five_minutes(utc(2028, 2, 28, 8, 55), utc(2028, 2, 28, 9, 5))
    assert not AutomationLog.objects.exists()
    every_five_minutes(utc(2028, 2, 29, 8, 55), utc(2028, 2, 29, 9, 5))
    assert AutomationLog.objects.get().occurrence_key == f"birthday:client:{leapling.pk}:2028"


def test_birthday_missed_by_a_day_long_outage_is_not_sent_late(birthday_rule):
    ClientFactory(birth_date=date(1990, 12, 1), email_marketing=True)
    scan_at(utc(2026, 12, 1, 8, 0))
    scan_at(utc(2026, 12, 2, 8, 0))  # the birthday is over in London
    assert not Message.objects.exists()


# --- Query cost, dry run and the command ---------------------------------------------------------


def test_scan_with_nothing_due_costs_a_few_queries(make_rule, django_assert_max_num_queries):
    for event in (
        TriggerEvent.SESSION_SCHEDULED,
        TriggerEvent.PAYMENT_DUE,
        TriggerEvent.PAYMENT_OVERDUE,
        TriggerEvent.BIRTHDAY,
    ):
        make_rule(event, offset_hours=24, created_at=LONG_AGO)
    for _ in range(5):
        session_at(utc(2026, 12, 5, 9, 0))
        ClientFactory(birth_date=date(1990, 6, 1))
    scan_at(utc(2026, 12, 1, 9, 0))
    # rules, scan state, overdue transition, sessions, overdue payments, birthdays,
    # payments due (only when a due hour is in the window), advance the state (2 at most)
    with django_assert_max_num_queries(9):
        result = scan_at(utc(2026, 12, 1, 9, 5))
    assert result.fired.per_rule == {}


@pytest.mark.postgres  # SQLite caps the parameters of one INSERT: it takes one per ~38 messages
@pytest.mark.parametrize("due", [1, 150])
def test_a_scan_costs_the_same_queries_however_many_reminders_are_due(
    reminder, due, django_assert_max_num_queries
):
    trainer = TrainerFactory()
    for client in ClientFactory.create_batch(due, trainer=trainer):
        session_at(utc(2026, 12, 2, 9, 0), client=client, trainer=trainer)
    scan_at(utc(2026, 12, 1, 8, 58))
    # rules, scan state, overdue transition, the sessions found; then the batch, in its
    # savepoint (2): claim the log rows, load the sessions with clients and trainers,
    # insert the messages, record the log rows; advance the state (1)
    with django_assert_max_num_queries(11):
        result = scan_at(utc(2026, 12, 1, 9, 1))
    assert result.fired.total("sent") == due == Message.objects.count()
    assert AutomationLog.objects.filter(status="sent", message__isnull=False).count() == due


def test_dry_run_reports_and_changes_nothing(reminder):
    session_at(utc(2026, 12, 2, 9, 0))
    scan_at(utc(2026, 12, 1, 8, 58))
    with time_machine.travel(utc(2026, 11, 1), tick=False):
        PaymentFactory(due_date=date(2026, 11, 20))
    result = scan_at(utc(2026, 12, 1, 9, 1), dry_run=True)
    assert result.fired.total("would_send") == 1 and result.turned_overdue == 1
    assert not AutomationLog.objects.exists()
    assert Payment.objects.get().status == "pending"
    assert ScanState.objects.get().scanned_until == utc(2026, 12, 1, 8, 58)


def test_run_triggers_prints_a_summary_per_rule(reminder, capsys):
    session_at(utc(2026, 12, 2, 9, 0))
    scan_at(utc(2026, 12, 1, 8, 58))
    call_command("run_triggers", "--now", "2026-12-01T09:01Z")
    out = capsys.readouterr().out
    assert f"{reminder.name} [session_scheduled]: fired 1, skipped 0, failed 0, already done 0" in out
    call_command("run_triggers", "--now", "2026-12-01T09:02Z", "--dry-run")
    assert "would send 0" in capsys.readouterr().out
    assert Message.objects.count() == 1


def test_run_triggers_naive_now_is_studio_time(reminder):
    session_at(utc(2026, 7, 2, 9, 0))  # 10:00 BST
    scan_at(utc(2026, 7, 1, 8, 58))
    call_command("run_triggers", "--now", "2026-07-01T10:01")  # = 09:01 UTC
    assert Message.objects.count() == 1


def test_run_triggers_rejects_a_bad_now():
    with pytest.raises(CommandError, match="ISO date-time"):
        call_command("run_triggers", "--now", "tomorrow")


def test_run_triggers_exits_non_zero_when_the_scan_cannot_run(monkeypatch):
    from django.db import OperationalError

    def broken(**kwargs):
        raise OperationalError("connection refused")

    monkeypatch.setattr("automation.management.commands.run_triggers.scan", broken)
    with pytest.raises(CommandError) as exc:
        call_command("run_triggers")
    assert exc.value.returncode == 1


def test_the_schedule_exists_after_migrate():
    from django_q.models import Schedule

    from automation.schedules import SCHEDULE_NAME, ensure_schedule

    assert Schedule.objects.filter(name=SCHEDULE_NAME).count() == 1  # made by migrate (post_migrate)
    ensure_schedule()
    ensure_schedule()
    schedule = Schedule.objects.get(name=SCHEDULE_NAME)
    assert (schedule.func, schedule.schedule_type, schedule.minutes) == ("automation.tasks.run_scan", "I", 5)


def test_a_failing_event_type_does_not_stop_the_others_and_is_retried_next_scan(
    reminder, make_rule, monkeypatch
):
    from automation import scan as scan_module

    birthday = make_rule(TriggerEvent.BIRTHDAY, channel="in_app", created_at=LONG_AGO)
    ClientFactory(birth_date=date(1990, 12, 1))
    session = session_at(utc(2026, 12, 2, 9, 0))
    scan_at(utc(2026, 12, 1, 8, 55))

    def broken(rules, start, now):
        raise RuntimeError("bug in the finder")

    monkeypatch.setitem(scan_module.FINDERS, TriggerEvent.SESSION_SCHEDULED, broken)
    result = scan_at(utc(2026, 12, 1, 9, 0))
    assert result.errors == ["session_scheduled: RuntimeError: bug in the finder"]
    assert list(Message.objects.values_list("rule", flat=True)) == [birthday.pk]
    monkeypatch.undo()
    scan_at(utc(2026, 12, 1, 9, 5))
    assert Message.objects.filter(session=session, rule=reminder).count() == 1
    assert Message.objects.count() == 2


def test_run_triggers_exits_2_when_an_event_type_failed(reminder, monkeypatch, capsys):
    from automation import scan as scan_module

    def broken(rules, start, now):
        raise RuntimeError("bug")

    monkeypatch.setitem(scan_module.FINDERS, TriggerEvent.SESSION_SCHEDULED, broken)
    with pytest.raises(CommandError) as exc:
        call_command("run_triggers")
    assert exc.value.returncode == 2
    assert "ERROR session_scheduled: RuntimeError: bug" in capsys.readouterr().out


def test_a_scan_run_in_the_future_does_not_cost_real_scans_their_catch_up(reminder):
    session = session_at(utc(2026, 12, 2, 9, 30))
    scan_at(utc(2026, 12, 1, 8, 0))
    with time_machine.travel(utc(2026, 12, 1, 8, 5), tick=False):
        # Someone tries out next week's reminders by hand (nothing due for this session then).
        call_command("run_triggers", "--now", "2026-12-08T09:00Z")
    assert ScanState.objects.get().scanned_until == utc(2026, 12, 1, 8, 0)
    # An outage: the next real scan is two hours later and still sends the 09:30 reminder.
    scan_at(utc(2026, 12, 1, 10, 0))
    assert Message.objects.get().session == session
    assert ScanState.objects.get().scanned_until == utc(2026, 12, 1, 10, 0)


def test_a_merged_payment_reminder_lists_what_is_still_owed_with_the_currency(settings, make_rule):
    # Two payments due together, one paid in part (a receipt): the list said "- 60.00 due ..."
    # (the whole amount, no currency) while the portal and amount_owed say what is left.
    from decimal import Decimal

    from billing import services as billing

    settings.PAYMENT_DUE_LOCAL_HOUR = 9
    settings.CURRENCY = "GBP"
    make_rule(
        TriggerEvent.PAYMENT_DUE,
        offset_hours=48,
        merge_minutes=10,
        body_template="You owe us.",
        created_at=LONG_AGO,
    )
    client = ClientFactory()
    with time_machine.travel(utc(2026, 11, 1), tick=False):
        part_paid = PaymentFactory(client=client, amount=Decimal("60.00"), due_date=date(2026, 12, 3))
        billing.payment_record_receipt(payment=part_paid, amount=Decimal("20.00"))
        PaymentFactory(client=client, amount=Decimal("1250.00"), due_date=date(2026, 12, 3))
    every_five_minutes(utc(2026, 12, 1, 8, 55), utc(2026, 12, 1, 9, 5))
    body = Message.objects.get().body
    assert "- £40.00 due 03 Dec 2026 (£20.00 of £60.00 paid so far)" in body
    assert "- £1,250.00 due 03 Dec 2026" in body
