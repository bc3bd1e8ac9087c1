"""package_low (credits taken) and package_expiring (the scan) rules, with time-machine."""

from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from django.utils import timezone

from automation import engine, forecast, scan, services
from automation.models import AutomationLog, AutomationRule, TriggerEvent
from automation.templating import sample_context, validate_for_event
from billing import credits
from clients.models import Channel
from messaging.models import Message
from scheduling import services as sessions
from tests.factories import SessionFactory, sell_package

pytestmark = pytest.mark.django_db


def make_rule(event, **fields):
    rule = AutomationRule.objects.create(
        name=event,
        trigger_event=event,
        channel=Channel.SMS,
        body_template="{{ first_name }}: {{ credits_left }} left on {{ package_name }}, use by {{ expires_on }}",
        **fields,
    )
    AutomationRule.objects.filter(pk=rule.pk).update(created_at=datetime(2026, 1, 1, tzinfo=UTC))
    rule.refresh_from_db()
    return rule


def complete_one(client):
    session = SessionFactory(client=client, starts_at=timezone.now() - timedelta(hours=3))
    return sessions.session_mark_completed(session=session)


class TestPackageLow:
    @pytest.fixture(autouse=True)
    def frozen(self):
        with time_machine.travel("2026-03-10 12:00Z", tick=False):
            yield

    def test_fires_once_when_credits_left_reach_the_threshold(
        self, client_obj, q_sync, django_capture_on_commit_callbacks
    ):
        rule = make_rule(TriggerEvent.PACKAGE_LOW, credits_threshold=1)
        package = sell_package(client_obj, sessions=3, bought_on=date(2026, 3, 1), validity_days=61)
        for _ in range(3):
            with django_capture_on_commit_callbacks(execute=True):
                complete_one(client_obj)
        log = AutomationLog.objects.get(rule=rule)
        assert log.occurrence_key == f"package:{package.pk}:low<=1"
        assert log.status == AutomationLog.Status.SENT
        assert log.message.body == (
            f"{client_obj.first_name}: 1 left on {package.package_type.name}, use by Thursday 30 April 2026"
        )
        assert Message.objects.count() == 1  # the spend to 0 finds it fired already

    def test_a_returned_credit_spent_again_does_not_tell_twice(
        self, client_obj, q_sync, django_capture_on_commit_callbacks
    ):
        rule = make_rule(TriggerEvent.PACKAGE_LOW, credits_threshold=0)
        sell_package(client_obj, sessions=1, bought_on=date(2026, 3, 1))
        with django_capture_on_commit_callbacks(execute=True):
            session = complete_one(client_obj)
        with django_capture_on_commit_callbacks(execute=True):
            credits.credit_return(session=session, reason="waived")
            credits.credit_spend(session=session, reason="completed")
        assert AutomationLog.objects.filter(rule=rule).count() == 1

    def test_above_the_threshold_nothing_fires(self, client_obj):
        rule = make_rule(TriggerEvent.PACKAGE_LOW, credits_threshold=1)
        package = sell_package(client_obj, sessions=5, bought_on=date(2026, 3, 1))
        complete_one(client_obj)
        result = services.handle_event(event=services.PACKAGE_CREDITS_TAKEN, pk=package.pk)
        assert result.total("sent") == 0
        assert not AutomationLog.objects.filter(rule=rule).exists()

    def test_topped_up_before_the_worker_ran_is_skipped(self, client_obj):
        rule = make_rule(TriggerEvent.PACKAGE_LOW, credits_threshold=1)
        package = sell_package(client_obj, sessions=1, bought_on=date(2026, 3, 1))
        complete_one(client_obj)
        occurrences = services._package_low_occurrences(
            credits.packages_with_credits().get(pk=package.pk), [rule]
        )
        credits.credit_adjust(package=package, delta=5, reason="bought more", by=None)
        result = engine.fire_occurrences(occurrences)
        assert result.total("skipped") == 1
        assert AutomationLog.objects.get(rule=rule).error == "package has 5 credits left again"

    def test_the_rule_accepts_the_package_variables_and_has_samples(self):
        validate_for_event("{{ credits_left }} {{ package_name }} {{ expires_on }}", TriggerEvent.PACKAGE_LOW)
        assert sample_context(TriggerEvent.PACKAGE_EXPIRING)["package_name"] == "Ten sessions"


class TestPackageExpiring:
    def test_fires_offset_hours_before_the_end_of_the_last_day_once(self, client_obj, settings):
        settings.STUDIO_TIME_ZONE = "Europe/London"
        rule = make_rule(TriggerEvent.PACKAGE_EXPIRING, offset_hours=7 * 24)
        with time_machine.travel("2026-03-01 10:00Z", tick=False):
            package = sell_package(client_obj, sessions=5, validity_days=30)  # last day 30 March
        # The package ends at midnight after 30 March (BST from 29 March): 23:00Z on the 30th.
        with time_machine.travel("2026-03-23 22:50Z", tick=False):
            assert scan.scan().fired.total("sent") == 0
        with time_machine.travel("2026-03-23 23:05Z", tick=False):
            assert scan.scan().fired.total("sent") == 1
        with time_machine.travel("2026-03-24 09:00Z", tick=False):
            assert scan.scan().fired.total("sent") == 0
        log = AutomationLog.objects.get(rule=rule)
        assert log.occurrence_key == f"package:{package.pk}:expiring=2026-03-30"
        assert "5 left" in log.message.body and "Monday 30 March 2026" in log.message.body

    def test_an_empty_package_is_not_reminded(self, client_obj):
        make_rule(TriggerEvent.PACKAGE_EXPIRING, offset_hours=24)
        with time_machine.travel("2026-03-01 10:00Z", tick=False):
            package = sell_package(client_obj, sessions=1, validity_days=10)  # last day 10 March
            credits.credit_adjust(package=package, delta=-1, reason="used elsewhere", by=None)
        with time_machine.travel("2026-03-10 00:30Z", tick=False):
            assert scan.scan().fired.total("sent") == 0

    def test_the_forecast_shows_what_the_scan_will_send(self, client_obj):
        rule = make_rule(TriggerEvent.PACKAGE_EXPIRING, offset_hours=48)
        with time_machine.travel("2026-03-01 10:00Z", tick=False):
            sell_package(client_obj, sessions=5, validity_days=10)
        with time_machine.travel("2026-03-07 10:00Z", tick=False):
            found = forecast.occurrences(now=timezone.now(), hours=7 * 24, rules=[rule])
        assert [o.key.split(":")[-1] for o in found] == ["expiring=2026-03-10"]
