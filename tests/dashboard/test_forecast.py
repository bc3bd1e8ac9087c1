"""The forecast is the scan's own code run ahead: what it lists is what the scans send."""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.urls import reverse

from automation import forecast
from automation.models import AutomationLog, AutomationRule, ScanState, TriggerEvent
from automation.scan import scan
from billing.models import Payment
from clients.models import Channel
from messaging.models import Message
from scheduling.models import Session
from tests.factories import ClientFactory, PaymentFactory, SessionFactory

pytestmark = pytest.mark.django_db

UTC = ZoneInfo("UTC")
T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)  # London is on UTC in December
BEFORE = T0 - timedelta(days=20)


def rule(event, offset, channel=Channel.SMS, **fields):
    made = AutomationRule.objects.create(
        name=f"{event} {offset}h",
        trigger_event=event,
        channel=channel,
        subject_template="Hello" if channel == Channel.EMAIL else "",
        body_template="Hi {{ first_name }}",
        offset_hours=offset,
        **fields,
    )
    AutomationRule.objects.filter(pk=made.pk).update(created_at=BEFORE)
    return made


@pytest.fixture
def studio(trainer, other_trainer):
    """Rules of every time-based kind, and targets that fall due (or not) in the next 24 h."""
    with time_machine.travel(BEFORE, tick=False):
        rule(TriggerEvent.SESSION_SCHEDULED, 24)
        rule(TriggerEvent.SESSION_SCHEDULED, 2, Channel.EMAIL)
        rule(TriggerEvent.PAYMENT_DUE, 48, Channel.EMAIL)
        rule(TriggerEvent.PAYMENT_OVERDUE, 72)
        rule(TriggerEvent.BIRTHDAY, 0, Channel.IN_APP)
        ana = ClientFactory(trainer=trainer, first_name="Ana", birth_date=date(1990, 12, 2))
        bo = ClientFactory(trainer=trainer, first_name="Bo")
        stopped = ClientFactory(trainer=trainer, first_name="Stopped", sms_opted_out_at=BEFORE)
        theirs = ClientFactory(trainer=other_trainer, first_name="Theirs")
        SessionFactory(client=ana, starts_at=T0 + timedelta(hours=3))  # 2 h reminder at T0+1h
        SessionFactory(client=bo, starts_at=T0 + timedelta(hours=30))  # 24 h reminder at T0+6h
        SessionFactory(client=bo, starts_at=T0 + timedelta(hours=50))  # nothing in the next 24 h
        SessionFactory(client=bo, starts_at=T0 + timedelta(hours=10), status=Session.Status.CANCELLED)
        SessionFactory(client=stopped, starts_at=T0 + timedelta(hours=40))  # SMS: opted out; email at T0+38h
        SessionFactory(client=theirs, starts_at=T0 + timedelta(hours=5))  # 2 h reminder at T0+3h
        PaymentFactory(client=bo, due_date=date(2026, 12, 4))  # 48 h before 09:00 on the 4th: T0+21h
        PaymentFactory(client=theirs, due_date=date(2026, 12, 10))
    overdue = PaymentFactory(client=ana, due_date=date(2026, 11, 25), status=Payment.Status.OVERDUE)
    Payment.objects.filter(pk=overdue.pk).update(overdue_at=T0 - timedelta(hours=67))  # +72 h: T0+5h
    ScanState.objects.create(name="time-triggers", scanned_until=T0 - timedelta(minutes=3))


def scans_until(end, *, every=timedelta(minutes=30), start=T0):
    moment = start
    while moment <= end:
        with time_machine.travel(moment, tick=False):
            scan()
        moment += every


def sent():
    return set(
        AutomationLog.objects.filter(status=AutomationLog.Status.SENT).values_list(
            "rule_id", "occurrence_key"
        )
    )


def listed(previews):
    return {(p.occurrence.rule.pk, p.occurrence.key) for p in previews}


def test_what_the_forecast_lists_is_exactly_what_the_scans_of_the_next_24_hours_send(studio, trainer):
    with time_machine.travel(T0, tick=False):
        coming = forecast.upcoming(now=T0, hours=24).previews
    assert [(p.client.first_name, p.occurrence.rule.name) for p in coming] == [
        ("Ana", "session_scheduled 2h"),
        ("Theirs", "session_scheduled 2h"),
        ("Ana", "payment_overdue 72h"),
        ("Bo", "session_scheduled 24h"),
        ("Bo", "payment_due 48h"),
        ("Ana", "birthday 0h"),
    ]
    assert [p.occurrence.due_at for p in coming] == [T0 + timedelta(hours=h) for h in (1, 3, 5, 6, 21, 21)]
    scans_until(T0 + timedelta(hours=24))
    assert sent() == listed(coming)
    assert Message.objects.filter(rule__isnull=False).count() == len(coming)
    # The opted-out client's SMS was judged exactly as the forecast judged it: skipped.
    assert AutomationLog.objects.get(status=AutomationLog.Status.SKIPPED).error == "opted out of SMS (STOP)"


def test_a_trainer_sees_only_her_own_clients_coming_up(studio, trainer, other_trainer):
    with time_machine.travel(T0, tick=False):
        mine = forecast.upcoming(now=T0, hours=24, trainer_id=trainer.pk).previews
        theirs = forecast.upcoming(now=T0, hours=24, trainer_id=other_trainer.pk).previews
    assert {p.client.trainer_id for p in mine} == {trainer.pk} and len(mine) == 5
    assert [p.client.first_name for p in theirs] == ["Theirs"]


def test_what_the_last_scan_has_not_reached_yet_is_listed_as_due_at_the_next_scan(studio):
    ScanState.objects.filter(name="time-triggers").update(scanned_until=T0 - timedelta(hours=2))
    with time_machine.travel(T0, tick=False):
        coming = forecast.upcoming(now=T0, hours=1).previews
    # The 2 h reminder of Ana's 3 h session fell due at T0+1h; the catch-up window of the
    # next scan begins two hours back, where the last one stopped.
    assert [p.client.first_name for p in coming] == ["Ana"]


def test_skip_this_one_records_the_occurrence_and_the_scan_never_sends_it(studio, trainer_client, trainer):
    with time_machine.travel(T0, tick=False):
        coming = forecast.upcoming(now=T0, hours=24, trainer_id=trainer.pk).previews
        bo = next(p for p in coming if p.occurrence.rule.name == "session_scheduled 24h")
        response = trainer_client.post(
            reverse("dashboard:skip_upcoming"),
            {"rule": bo.occurrence.rule.pk, "key": bo.occurrence.key, "next": "/admin/"},
        )
        assert response.status_code == 302
        log = AutomationLog.objects.get(rule=bo.occurrence.rule, occurrence_key=bo.occurrence.key)
        assert (log.status, log.error, log.client.first_name) == ("skipped", "skipped by trainer_a", "Bo")
        assert listed(forecast.upcoming(now=T0, hours=24, trainer_id=trainer.pk).previews) == listed(
            coming
        ) - {(bo.occurrence.rule.pk, bo.occurrence.key)}
    scans_until(T0 + timedelta(hours=24))
    assert (bo.occurrence.rule.pk, bo.occurrence.key) not in sent()
    assert not Message.objects.filter(session__client__first_name="Bo", rule=bo.occurrence.rule).exists()
    log.refresh_from_db()
    assert log.status == "skipped" and log.message is None
    # The others still went.
    mine = listed(coming) - {(bo.occurrence.rule.pk, bo.occurrence.key)}
    assert mine <= sent()


def test_skip_is_scoped_and_post_only(studio, trainer_client, other_trainer):
    with time_machine.travel(T0, tick=False):
        theirs = forecast.upcoming(now=T0, hours=24, trainer_id=other_trainer.pk).previews[0]
        url = reverse("dashboard:skip_upcoming")
        data = {"rule": theirs.occurrence.rule.pk, "key": theirs.occurrence.key}
        assert trainer_client.post(url, data).status_code == 404
        assert trainer_client.get(url, data).status_code == 405
        assert trainer_client.post(url, {"rule": "x", "key": "nope"}).status_code == 404
    assert not AutomationLog.objects.exists()


def test_a_manager_may_skip_any_trainers_occurrence(studio, manager_client, other_trainer):
    with time_machine.travel(T0, tick=False):
        theirs = forecast.upcoming(now=T0, hours=24, trainer_id=other_trainer.pk).previews[0]
        manager_client.post(
            reverse("dashboard:skip_upcoming"),
            {"rule": theirs.occurrence.rule.pk, "key": theirs.occurrence.key},
        )
    assert AutomationLog.objects.get().error == "skipped by manager"


def test_the_scan_itself_still_leaves_out_sessions_that_started_before_it_ran(studio):
    """The ``forecast`` option is the forecast's alone: a scan at ``now`` works as before."""
    scans_until(T0 + timedelta(hours=24), every=timedelta(hours=24))
    # Two scans, at T0 and T0+24h: the second covers a whole day, in which the sessions of
    # the 2 h reminders started, so only the 24 h reminder of the session still ahead goes.
    reminded = {key.split(":")[1] for _, key in sent() if key.startswith("session:")}
    assert reminded == {str(Session.objects.get(starts_at=T0 + timedelta(hours=30)).pk)}
