"""Why a queued message waits, in words: one function the thread, the admin and the dashboard share."""

from datetime import timedelta

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from messaging.delivery import deliver_due
from messaging.holds import hold_reason
from messaging.models import Message
from messaging.services import send_message
from tests.factories import ClientFactory
from tests.support.clock import utc

pytestmark = pytest.mark.django_db

NIGHT = utc(2026, 1, 15, 3, 23)  # 03:23 in London (GMT)
NOON = utc(2026, 1, 15, 12, 0)


def test_an_sms_deferred_by_quiet_hours_says_until_when_on_the_clients_clock(trainer, twilio_http):
    client = ClientFactory(trainer=trainer, timezone="Europe/Madrid")  # 04:23 there
    with time_machine.travel(NIGHT, tick=False):
        message = send_message(client=client, channel="sms", body="See you")
        deliver_due(limit=10)
        message.refresh_from_db()
        assert message.status == Message.Status.QUEUED
        assert hold_reason(message) == "held until 08:00 (client's time) — quiet hours"


def test_an_sms_queued_inside_quiet_hours_is_held_before_the_engine_sees_it(client_obj):
    with time_machine.travel(NIGHT, tick=False):
        message = send_message(client=client_obj, channel="sms", body="See you")
        assert hold_reason(message) == "held until 08:00 (client's time) — quiet hours"


def test_a_reminder_that_quiet_hours_would_make_too_late_says_it_will_not_go(client_obj):
    with time_machine.travel(NIGHT, tick=False):
        message = send_message(
            client=client_obj, channel="sms", body="07:00 session", not_after=NIGHT + timedelta(hours=3)
        )
        assert hold_reason(message).endswith("too late to matter, so it will not be sent")


def test_email_and_an_overridden_sms_are_not_held_by_quiet_hours(client_obj, trainer):
    with time_machine.travel(NIGHT, tick=False):
        email = send_message(client=client_obj, channel="email", subject="Hi", body="...")
        urgent = send_message(client=client_obj, channel="sms", body="Session cancelled, I'm ill")
        Message.objects.filter(pk=urgent.pk).update(
            quiet_hours_overridden_at=timezone.now(), quiet_hours_overridden_by=trainer
        )
        urgent.refresh_from_db()
        assert hold_reason(email) is None
        assert hold_reason(urgent) is None


def test_a_retry_says_which_attempt_and_when(client_obj, twilio_http, settings):
    settings.MESSAGING_MAX_ATTEMPTS = 5
    twilio_http.reply(503, '{"status": 503, "code": 20503, "message": "busy"}')
    with time_machine.travel(utc(2026, 1, 15, 14, 4), tick=False):
        message = send_message(client=client_obj, channel="sms", body="Reminder")
        deliver_due(limit=10)
        message.refresh_from_db()
        assert message.attempts == 1
        assert hold_reason(message) == "retry 2 of 5 at 14:05"


def test_a_scheduled_message_names_its_day_when_it_is_not_today(client_obj):
    with time_machine.travel(NOON, tick=False):
        message = send_message(client=client_obj, channel="email", subject="Hi", body="...")
        Message.objects.filter(pk=message.pk).update(next_attempt_at=utc(2026, 1, 16, 9, 30))
        message.refresh_from_db()
        assert hold_reason(message) == "scheduled for Fri 16 Jan 09:30"


def test_a_marketing_message_over_the_weekly_cap_says_so(client_obj, settings):
    settings.MARKETING_WEEKLY_CAP_PER_CLIENT = 1
    with time_machine.travel(NOON, tick=False):
        sent = send_message(client=client_obj, channel="email", subject="1", body=".", category="marketing")
        Message.objects.filter(pk=sent.pk).update(status=Message.Status.SENT, sent_at=NOON)
        waiting = send_message(
            client=client_obj, channel="email", subject="2", body=".", category="marketing"
        )
        assert hold_reason(waiting) == "over the weekly marketing cap (1 per client): it will not be sent"


def test_sent_received_and_due_messages_are_not_held(client_obj):
    with time_machine.travel(NOON, tick=False):
        due = send_message(client=client_obj, channel="sms", body="now")
        assert hold_reason(due) is None
        due.status = Message.Status.SENT
        assert hold_reason(due) is None


def test_the_thread_and_the_message_admin_show_the_hold(client_obj, trainer_client, manager_client):
    with time_machine.travel(NIGHT, tick=False):
        message = send_message(client=client_obj, channel="sms", body="See you")
        thread = trainer_client.get(reverse("inbox:thread", args=[client_obj.pk]))
        listing = manager_client.get(reverse("admin:messaging_message_changelist"))
        page = manager_client.get(reverse("admin:messaging_message_change", args=[message.pk]))
    expected = "held until 08:00 (client&#x27;s time) — quiet hours"
    assert expected.capitalize() in thread.content.decode()
    assert expected in listing.content.decode()
    assert expected in page.content.decode()


def test_the_engine_sends_an_overridden_sms_inside_quiet_hours(client_obj, trainer, twilio_http):
    with time_machine.travel(NIGHT, tick=False):
        message = send_message(client=client_obj, channel="sms", body="7 am session cancelled, I'm ill")
        Message.objects.filter(pk=message.pk).update(
            quiet_hours_overridden_at=timezone.now(), quiet_hours_overridden_by=trainer
        )
        deliver_due(limit=10)
    message.refresh_from_db()
    assert message.status == Message.Status.SENT
    assert len(twilio_http.requests) == 1


# --- Compose: the quiet-hours question, urgent, scheduled --------------------------------


def test_compose_asks_before_texting_inside_quiet_hours(trainer_client, client_obj):
    with time_machine.travel(NIGHT, tick=False):
        response = trainer_client.post(
            reverse("inbox:send", args=[client_obj.pk]), {"channel": "sms", "body": "Session off, I'm ill"}
        )
    assert response.status_code == 200
    page = response.content.decode()
    assert "It is 03:23 for" in page and "Send at 08:00 (their time)" in page and "Send now — urgent" in page
    assert not Message.objects.exists()  # nothing goes until they choose


def test_send_at_the_end_of_quiet_hours_schedules_it(trainer_client, client_obj):
    with time_machine.travel(NIGHT, tick=False):
        trainer_client.post(
            reverse("inbox:send", args=[client_obj.pk]),
            {"channel": "sms", "body": "Session off", "quiet_hours": "wait"},
        )
    message = Message.objects.get()
    assert message.next_attempt_at == utc(2026, 1, 15, 8, 0)
    assert message.quiet_hours_overridden_at is None
    with time_machine.travel(NIGHT, tick=False):
        assert hold_reason(message) == "held until 08:00 (client's time) — quiet hours"


def test_send_now_urgent_records_who_overrode_and_goes_at_once(
    trainer_client, trainer, client_obj, twilio_http
):
    with time_machine.travel(NIGHT, tick=False):
        trainer_client.post(
            reverse("inbox:send", args=[client_obj.pk]),
            {"channel": "sms", "body": "7 am session cancelled, I'm ill", "quiet_hours": "urgent"},
        )
        deliver_due(limit=10)
    message = Message.objects.get()
    assert (message.quiet_hours_overridden_by, message.quiet_hours_overridden_at) == (trainer, NIGHT)
    assert message.status == Message.Status.SENT
    assert message.events.filter(detail__contains="urgent by trainer_a").exists()
    assert len(twilio_http.requests) == 1


def test_urgent_is_for_notices_only(client_obj, trainer):
    with pytest.raises(ValueError, match="reminders and notices"):
        send_message(
            client=client_obj, channel="sms", body="50% off!", category="marketing", urgent_by=trainer
        )


def test_staff_schedule_a_message_for_later_in_their_own_zone(trainer_client, client_obj):
    with time_machine.travel(NOON, tick=False):
        response = trainer_client.post(
            reverse("inbox:send", args=[client_obj.pk]),
            {"channel": "email", "body": "Happy new plan", "send_at": "2026-01-16T09:30"},
            follow=True,
        )
        message = Message.objects.get()
        assert message.next_attempt_at == utc(2026, 1, 16, 9, 30)
        assert "scheduled for Fri 16 Jan 2026 09:30 GMT" in response.content.decode()
        assert "Scheduled for Fri 16 Jan 09:30" in response.content.decode()  # the hold in the thread
        assert deliver_due(limit=10) == 0  # not yet


def test_a_time_in_the_past_is_refused(trainer_client, client_obj):
    with time_machine.travel(NOON, tick=False):
        response = trainer_client.post(
            reverse("inbox:send", args=[client_obj.pk]),
            {"channel": "email", "body": "Hi", "send_at": "2026-01-15T11:00"},
        )
    assert response.status_code == 400
    assert "That time has passed" in response.content.decode()
    assert not Message.objects.exists()


def test_the_sms_counter_counts_the_portal_link_when_ticked(trainer_client, client_obj, settings):
    settings.SITE_URL = "https://crm.example.com"
    url = reverse("inbox:client_sms_count", args=[client_obj.pk])
    plain = trainer_client.post(url, {"body": "x" * 100}).content.decode()
    linked = trainer_client.post(url, {"body": "x" * 100, "add_portal_link": "on"}).content.decode()
    assert "100 characters, 1 segment" in plain
    assert "2 segments" in linked  # 100 + the link > 160


def test_the_sms_counter_is_for_the_users_own_clients(trainer_client, other_trainer):
    theirs = ClientFactory(trainer=other_trainer)
    response = trainer_client.post(reverse("inbox:client_sms_count", args=[theirs.pk]), {"body": "x"})
    assert response.status_code == 404
