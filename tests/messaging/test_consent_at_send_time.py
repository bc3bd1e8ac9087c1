from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.utils import timezone

from clients.models import ConsentChange
from clients.services import client_email_suppress, client_email_unsubscribe, client_sms_opt_out
from messaging.delivery import deliver_due, quiet_hours_resume_at
from messaging.models import Message
from messaging.services import send_message
from tests.factories import ClientFactory

pytestmark = pytest.mark.django_db

NOON_LONDON = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


def refreshed(message):
    message.refresh_from_db()
    return message


def test_an_sms_opt_out_after_enqueueing_still_stops_the_message(client_obj, twilio_http):
    with time_machine.travel(NOON_LONDON, tick=False):
        message = send_message(client=client_obj, channel="sms", body="Reminder")
        client_sms_opt_out(client=client_obj, source=ConsentChange.Source.SMS_KEYWORD)
        deliver_due(limit=10)

    message = refreshed(message)
    assert message.status == Message.Status.SUPPRESSED
    assert message.error == "opted out of SMS (STOP)"
    assert twilio_http.requests == []


def test_transactional_email_respects_an_unsubscribe(client_obj, esp_email):
    message = send_message(client=client_obj, channel="email", subject="Payment due", body="...")
    client_email_unsubscribe(client=client_obj, source=ConsentChange.Source.UNSUBSCRIBE_LINK)
    deliver_due(limit=10)
    assert refreshed(message).status == Message.Status.SUPPRESSED
    assert message.error == "unsubscribed from email"
    assert esp_email == []


def test_a_bounced_address_is_not_emailed_again(client_obj, esp_email):
    client_email_suppress(client=client_obj, reason="bounced")
    message = send_message(client=client_obj, channel="email", subject="Hi", body="...")
    deliver_due(limit=10)
    assert refreshed(message).status == Message.Status.SUPPRESSED
    assert "suppressed" in message.error


def test_marketing_needs_consent(client_obj, esp_email):
    message = send_message(
        client=client_obj, channel="email", subject="Offer", body="...", category="marketing"
    )
    deliver_due(limit=10)
    assert refreshed(message).status == Message.Status.SUPPRESSED
    assert message.error == "no consent to marketing email"


def test_weekly_marketing_cap_counts_every_rule_and_campaign_on_every_channel(trainer, esp_email, settings):
    settings.MARKETING_WEEKLY_CAP_PER_CLIENT = 2
    client = ClientFactory(trainer=trainer, email_marketing=True, sms_marketing=True)
    start = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
    with time_machine.travel(start, tick=False) as clock:
        first = send_message(client=client, channel="email", subject="A", body="...", category="marketing")
        deliver_due(limit=10)
        clock.move_to(start + timedelta(days=2))
        second = send_message(client=client, channel="in_app", body="B", category="marketing")
        deliver_due(limit=10)
        clock.move_to(start + timedelta(days=4))
        third = send_message(client=client, channel="email", subject="C", body="...", category="marketing")
        reminder = send_message(client=client, channel="email", subject="Tomorrow", body="...")
        deliver_due(limit=10)
        # A week after the first, there is room again.
        clock.move_to(start + timedelta(days=7, seconds=1))
        fourth = send_message(client=client, channel="email", subject="D", body="...", category="marketing")
        deliver_due(limit=10)

    assert refreshed(first).status == Message.Status.SENT
    assert refreshed(second).status == Message.Status.DELIVERED
    assert refreshed(third).status == Message.Status.SUPPRESSED
    assert third.error == "weekly marketing cap of 2 reached"
    assert refreshed(reminder).status == Message.Status.SENT  # transactional is not capped
    assert refreshed(fourth).status == Message.Status.SENT


def test_a_message_past_its_not_after_is_suppressed(client_obj, esp_email):
    message = send_message(
        client=client_obj,
        channel="email",
        subject="Starts in 1 hour",
        body="...",
        not_after=timezone.now() - timedelta(minutes=1),
    )
    deliver_due(limit=10)
    assert refreshed(message).status == Message.Status.SUPPRESSED
    assert message.error.startswith("too late")


# --- Quiet hours ----------------------------------------------------------------------


def test_sms_in_quiet_hours_is_deferred_to_eight_in_the_clients_zone(trainer, twilio_http):
    client = ClientFactory(trainer=trainer, timezone="America/New_York")
    # 22:30 in New York (EST, UTC-5); London would be 03:30 — the client's zone decides.
    with time_machine.travel(datetime(2026, 1, 15, 3, 30, tzinfo=UTC), tick=False) as clock:
        message = send_message(client=client, channel="sms", body="Reminder")
        deliver_due(limit=10)
        message = refreshed(message)
        assert message.status == Message.Status.QUEUED
        assert message.next_attempt_at == datetime(2026, 1, 15, 13, 0, tzinfo=UTC)  # 08:00 EST
        assert message.attempts == 0  # deferring is not a failed attempt
        assert twilio_http.requests == []

        clock.move_to(message.next_attempt_at)
        deliver_due(limit=10)
    assert refreshed(message).status == Message.Status.SENT


def test_quiet_hours_deferral_lands_on_eight_local_across_the_autumn_dst_change(trainer, twilio_http):
    # New York leaves DST at 02:00 on Sunday 1 November 2026: the night is 25 hours long.
    client = ClientFactory(trainer=trainer, timezone="America/New_York")
    evening = datetime(2026, 10, 31, 22, 0, tzinfo=UTC) + timedelta(hours=4)  # 22:00 EDT, Saturday
    with time_machine.travel(evening, tick=False):
        message = send_message(client=client, channel="sms", body="Reminder")
        deliver_due(limit=10)
    # 08:00 EST (UTC-5) on Sunday, not 08:00 EDT (which would be 07:00 local).
    assert refreshed(message).next_attempt_at == datetime(2026, 11, 1, 13, 0, tzinfo=UTC)


def test_quiet_hours_deferral_lands_on_eight_local_across_the_spring_dst_change(trainer):
    # London moves to BST at 01:00 UTC on Sunday 29 March 2026.
    resume = quiet_hours_resume_at(
        datetime(2026, 3, 28, 23, 0, tzinfo=UTC), ClientFactory(trainer=trainer).tzinfo
    )
    assert resume == datetime(2026, 3, 29, 7, 0, tzinfo=UTC)  # 08:00 BST


def test_quiet_hours_apply_only_to_sms(client_obj, esp_email):
    with time_machine.travel(datetime(2026, 1, 15, 23, 30, tzinfo=UTC), tick=False):
        message = send_message(client=client_obj, channel="email", subject="Receipt", body="...")
        deliver_due(limit=10)
    assert refreshed(message).status == Message.Status.SENT


def test_a_reminder_that_would_arrive_after_the_session_started_is_suppressed(client_obj, twilio_http):
    night = datetime(2026, 1, 15, 22, 0, tzinfo=UTC)  # 22:00 in London
    with time_machine.travel(night, tick=False):
        message = send_message(
            client=client_obj, channel="sms", body="Your 07:00 session", not_after=night + timedelta(hours=9)
        )
        deliver_due(limit=10)
    message = refreshed(message)
    assert message.status == Message.Status.SUPPRESSED
    assert message.error == "quiet hours: it would arrive too late to matter"
    assert twilio_http.requests == []


def test_quiet_hours_window_is_a_setting(client_obj, settings):
    settings.QUIET_HOURS_START, settings.QUIET_HOURS_END = 22, 7
    tz = client_obj.tzinfo
    assert quiet_hours_resume_at(datetime(2026, 1, 15, 21, 30, tzinfo=UTC), tz) is None
    assert quiet_hours_resume_at(datetime(2026, 1, 15, 22, 0, tzinfo=UTC), tz) == datetime(
        2026, 1, 16, 7, 0, tzinfo=UTC
    )
    assert quiet_hours_resume_at(datetime(2026, 1, 16, 6, 59, tzinfo=UTC), tz) == datetime(
        2026, 1, 16, 7, 0, tzinfo=UTC
    )
