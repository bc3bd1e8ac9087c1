"""The trainer hears what clients do: inbox events, an email per event, or an hourly digest."""

from datetime import timedelta

import pytest
import time_machine
from anymail.signals import AnymailTrackingEvent, tracking
from django.core import mail
from django.urls import reverse
from django_q.models import Schedule

from clients.models import StaffProfile
from clients.services import staff_set_timezone
from messaging import schedules
from messaging.activity import record_client_activity, send_trainer_digests
from messaging.delivery import deliver_due
from messaging.inbox.selectors import unread_total
from messaging.inbox.services import staff_read_thread
from messaging.models import ClientActivity, Message
from messaging.portal.services import portal_cancel_session, portal_confirm_session, portal_reply
from messaging.portal.tokens import make_portal_token
from messaging.services import send_message
from messaging.webhooks import twilio_inbound_received, twilio_status_received
from scheduling.models import Session
from tests.factories import ClientFactory, SessionFactory
from tests.messaging.conftest import twilio_error_json
from tests.support.clock import utc

pytestmark = pytest.mark.django_db

Kind = ClientActivity.Kind
T0 = utc(2026, 3, 10, 10, 5)  # a Tuesday, 10:05 in London


def kinds(client):
    return list(ClientActivity.objects.filter(client=client).values_list("kind", flat=True))


def wants(trainer, notify):
    staff_set_timezone(user=trainer, timezone_name="", notify=notify)


# --- What becomes an inbox event ----------------------------------------------------------


def test_a_portal_cancellation_with_a_reason_reaches_the_trainers_inbox(trainer, trainer_client, client_obj):
    with time_machine.travel(T0, tick=False):
        session = SessionFactory(client=client_obj, starts_at=T0 + timedelta(days=3))
        portal_cancel_session(client=client_obj, session_id=session.pk, reason="  Twisted my\nankle ")

    session.refresh_from_db()
    assert (session.status, session.cancelled_by, session.cancel_reason) == (
        Session.Status.CANCELLED,
        Session.CancelledBy.CLIENT,
        "Twisted my ankle",
    )
    activity = ClientActivity.objects.get(client=client_obj)
    assert (activity.kind, activity.session, activity.detail) == (Kind.CANCELLED, session, "Twisted my ankle")
    assert unread_total(trainer) == 1

    page = trainer_client.get(reverse("inbox:thread", args=[client_obj.pk])).content.decode()
    assert "Cancelled the session on Fri 13 Mar" in page
    assert "Twisted my ankle" in page
    listing = trainer_client.get(reverse("inbox:list")).content.decode()
    assert client_obj.full_name in listing and "Cancelled the session" in listing

    staff_read_thread(client=client_obj)
    assert unread_total(trainer) == 0


def test_a_refused_late_cancellation_is_told_once(client_obj):
    with time_machine.travel(T0, tick=False):
        session = SessionFactory(client=client_obj, starts_at=T0 + timedelta(hours=5))
        for _ in range(2):
            with pytest.raises(Exception, match="cancelled free of charge"):
                portal_cancel_session(client=client_obj, session_id=session.pk, reason="traffic")
    session.refresh_from_db()
    assert session.status == Session.Status.SCHEDULED
    assert kinds(client_obj) == [Kind.LATE_CANCEL_REFUSED]
    assert ClientActivity.objects.get().detail == "traffic"


def test_a_portal_confirmation_is_told_once(client_obj):
    session = SessionFactory(client=client_obj)
    portal_confirm_session(client=client_obj, session_id=session.pk)
    portal_confirm_session(client=client_obj, session_id=session.pk)
    assert kinds(client_obj) == [Kind.CONFIRMED]


def test_stop_and_start_by_sms_are_inbox_events_and_a_reply_is_not_doubled(client_obj):
    number = str(client_obj.phone)
    twilio_inbound_received(params={"From": number, "Body": "Stop", "MessageSid": "SM1"})
    twilio_inbound_received(params={"From": number, "Body": "START", "MessageSid": "SM2"})
    twilio_inbound_received(params={"From": number, "Body": "See you Monday", "MessageSid": "SM3"})
    assert kinds(client_obj) == [Kind.SMS_OPTED_OUT, Kind.SMS_OPTED_IN]
    assert ClientActivity.objects.first().detail == "texted STOP"


def test_an_unsubscribe_link_is_told_the_first_time_only(client, client_obj):
    from messaging.unsubscribe import unsubscribe_url

    url = unsubscribe_url(client_obj)
    client.post(url)
    client.post(url)
    assert kinds(client_obj) == [Kind.EMAIL_UNSUBSCRIBED]


def test_an_invalid_number_is_told_as_a_failed_message(client_obj, twilio_http):
    twilio_http.reply(400, twilio_error_json(400, 21211, "The 'To' number is not a valid phone number."))
    with time_machine.travel(T0, tick=False):
        message = send_message(client=client_obj, channel="sms", body="Reminder")
        deliver_due(limit=10)
    activity = ClientActivity.objects.get(client=client_obj)
    assert (activity.kind, activity.message_id) == (Kind.MESSAGE_FAILED, message.pk)
    assert "21211" in activity.detail


def test_a_retry_is_not_an_inbox_event(client_obj, twilio_http):
    twilio_http.reply(503, twilio_error_json(503, 20503, "busy"))
    with time_machine.travel(T0, tick=False):
        send_message(client=client_obj, channel="sms", body="Reminder")
        deliver_due(limit=10)
    assert kinds(client_obj) == []


def test_an_undelivered_sms_callback_and_an_email_bounce_are_told(client_obj):
    sms = Message.objects.create(
        client=client_obj, channel="sms", body="x", status=Message.Status.SENT, provider_id="SM9"
    )
    twilio_status_received(params={"MessageSid": "SM9", "MessageStatus": "undelivered", "ErrorCode": "30003"})
    twilio_status_received(params={"MessageSid": "SM9", "MessageStatus": "undelivered", "ErrorCode": "30003"})
    email = Message.objects.create(
        client=client_obj, channel="email", body="x", status=Message.Status.SENT, provider_id="pm-1"
    )
    event = AnymailTrackingEvent(event_type="bounced", message_id="pm-1", event_id="b-1", timestamp=T0)
    tracking.send(sender=object, event=event, esp_name="Postmark")
    assert list(ClientActivity.objects.values_list("kind", "message_id")) == [
        (Kind.MESSAGE_FAILED, sms.pk),
        (Kind.MESSAGE_FAILED, email.pk),
    ]


# --- An email per event ----------------------------------------------------------------------


def test_an_email_per_event_tells_the_trainer_at_once(
    trainer, client_obj, q_sync, django_capture_on_commit_callbacks, settings
):
    settings.SITE_URL = "https://crm.example.com"
    wants(trainer, StaffProfile.Notify.EACH)
    mail.outbox = []
    with time_machine.travel(T0, tick=False):
        session = SessionFactory(client=client_obj, starts_at=T0 + timedelta(days=3))
        with django_capture_on_commit_callbacks(execute=True):
            portal_cancel_session(client=client_obj, session_id=session.pk, reason="ill")
        with django_capture_on_commit_callbacks(execute=True):
            portal_reply(client=client_obj, body="Sorry about that!")

    assert [m.to for m in mail.outbox] == [[trainer.email], [trainer.email]]
    cancelled, replied = mail.outbox
    assert (
        cancelled.subject == f"{client_obj.full_name}: Cancelled the session on Fri 13 Mar 10:05 GMT: “ill”"
    )
    assert f"https://crm.example.com/inbox/{client_obj.pk}/" in cancelled.body
    assert "Sorry about that!" in replied.subject
    assert ClientActivity.objects.get().notified_at == T0


def test_an_activity_is_emailed_once_even_if_its_task_runs_twice(trainer, client_obj):
    from messaging.activity import notify_trainer

    wants(trainer, StaffProfile.Notify.EACH)
    activity = record_client_activity(client=client_obj, kind=Kind.CONFIRMED)
    mail.outbox = []
    assert notify_trainer(activity_id=activity.pk) is True
    assert notify_trainer(activity_id=activity.pk) is False
    assert len(mail.outbox) == 1


def test_a_trainer_who_chose_nothing_gets_no_email(
    trainer, client_obj, q_sync, django_capture_on_commit_callbacks
):
    mail.outbox = []
    with django_capture_on_commit_callbacks(execute=True):
        record_client_activity(client=client_obj, kind=Kind.CONFIRMED)
        portal_reply(client=client_obj, body="hi")
    assert mail.outbox == []
    assert unread_total(trainer) == 2  # the inbox still has both


def test_another_trainers_client_is_not_in_my_email(
    trainer, other_trainer, q_sync, django_capture_on_commit_callbacks
):
    wants(trainer, StaffProfile.Notify.EACH)
    theirs = ClientFactory(trainer=other_trainer)
    mail.outbox = []
    with django_capture_on_commit_callbacks(execute=True):
        record_client_activity(client=theirs, kind=Kind.CONFIRMED)
    assert mail.outbox == []


# --- One digest per hour ---------------------------------------------------------------------


def test_the_hourly_digest_lists_the_hour_once_and_skips_what_was_read(trainer, client_obj):
    other = ClientFactory(trainer=trainer, first_name="Zoe")
    with time_machine.travel(utc(2026, 3, 10, 9, 30), tick=False):
        wants(trainer, StaffProfile.Notify.HOURLY)
    mail.outbox = []
    with time_machine.travel(utc(2026, 3, 10, 10, 5), tick=False):
        session = SessionFactory(client=client_obj, starts_at=T0 + timedelta(days=3))
        portal_cancel_session(client=client_obj, session_id=session.pk, reason="ill")
    with time_machine.travel(utc(2026, 3, 10, 10, 40), tick=False):
        portal_reply(client=other, body="Can we move Friday?")
    with time_machine.travel(utc(2026, 3, 10, 10, 50), tick=False):
        record_client_activity(client=other, kind=Kind.SMS_OPTED_OUT, detail="texted STOP")
        staff_read_thread(client=other)
        portal_reply(client=other, body="Ignore that, Friday is fine")

    with time_machine.travel(utc(2026, 3, 10, 11, 0), tick=False):
        assert send_trainer_digests() == 1
        assert send_trainer_digests() == 0  # the hour is told once
    (digest,) = mail.outbox
    assert digest.to == [trainer.email]
    assert "2 thing(s)" in digest.subject
    assert "10:05 Cancelled the session on Fri 13 Mar 10:05 GMT: “ill”" in digest.body
    assert "10:50 Wrote (In-app): Ignore that, Friday is fine" in digest.body
    assert "Can we move Friday" not in digest.body  # read in the inbox before the digest
    assert "Opted out" not in digest.body

    with time_machine.travel(utc(2026, 3, 10, 12, 0), tick=False):
        assert send_trainer_digests() == 0  # a quiet hour sends nothing
    with time_machine.travel(utc(2026, 3, 10, 12, 30), tick=False):
        portal_reply(client=client_obj, body="Next week?")
    with time_machine.travel(utc(2026, 3, 10, 13, 0), tick=False):
        assert send_trainer_digests() == 1
    assert (
        "Next week?" in mail.outbox[-1].body and "“ill”" not in mail.outbox[-1].body
    )  # the cancellation, not a name like Phillips


def test_the_digest_skips_trainers_who_chose_otherwise(trainer, other_trainer):
    wants(trainer, StaffProfile.Notify.EACH)
    record_client_activity(client=ClientFactory(trainer=trainer), kind=Kind.CONFIRMED)
    record_client_activity(client=ClientFactory(trainer=other_trainer), kind=Kind.CONFIRMED)
    mail.outbox = []
    assert send_trainer_digests() == 0


def test_migrate_creates_the_hourly_digest_schedule():
    schedule = Schedule.objects.get(name=schedules.DIGEST_SCHEDULE_NAME)
    assert (schedule.func, schedule.minutes) == ("messaging.tasks.send_trainer_digests", 60)


def test_my_settings_offers_the_choice(trainer_client, trainer):
    trainer_client.post(reverse("my_settings"), {"timezone": "", "notify": "hourly"})
    assert StaffProfile.objects.get(user=trainer).notify == StaffProfile.Notify.HOURLY


# --- Who cancelled, on the session pages -------------------------------------------------------


def test_the_session_list_and_page_say_who_cancelled_and_when(manager_client, client_obj):
    with time_machine.travel(T0, tick=False):
        session = SessionFactory(client=client_obj, starts_at=T0 + timedelta(days=3))
        portal_cancel_session(client=client_obj, session_id=session.pk, reason="ill")
    listing = manager_client.get(reverse("admin:scheduling_session_changelist")).content.decode()
    assert "Cancelled by client, Tue 10 Mar 2026 10:05 GMT" in listing
    page = manager_client.get(reverse("admin:scheduling_session_change", args=[session.pk])).content.decode()
    assert "Cancelled by client, Tue 10 Mar 2026 10:05 GMT" in page and "ill" in page


def test_the_portal_asks_before_cancelling(client, client_obj):
    session = SessionFactory(client=client_obj)
    token = make_portal_token(client_obj)
    page = client.get(reverse("portal:session", args=[token, session.pk])).content.decode()
    assert 'id="cancel-form"' not in page and "Cancel this session…" in page
    page = client.get(
        reverse("portal:session", args=[token, session.pk]), {"action": "cancel"}
    ).content.decode()
    assert 'id="cancel-form"' in page and 'name="reason"' in page
