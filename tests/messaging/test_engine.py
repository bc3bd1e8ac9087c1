from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import transaction

from messaging.delivery import claim_batch, deliver_claimed, deliver_due, recover_stuck
from messaging.models import Message
from messaging.services import kick_delivery, send_message
from messaging.tasks import deliver_pending
from tests.factories import ClientFactory
from tests.support.threads import run_in_threads

NOON = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


def statuses(*messages):
    return [Message.objects.get(pk=m.pk).status for m in messages]


@pytest.mark.django_db
def test_send_message_snapshots_the_address_and_kicks_one_task_per_transaction(
    client_obj, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks, transaction.atomic():
        first = send_message(client=client_obj, channel="email", subject="A", body="...")
        send_message(client=client_obj, channel="sms", body="B")
        send_message(client=client_obj, channel="in_app", body="C")
    assert first.to_address == client_obj.email
    assert first.status == Message.Status.QUEUED
    # A campaign of thousands of rows must not become thousands of tasks.
    assert callbacks == [kick_delivery]


@pytest.mark.django_db
def test_a_rollback_leaves_no_message_and_sends_nothing(
    client_obj, esp_email, django_capture_on_commit_callbacks
):
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        send_message(client=client_obj, channel="email", subject="A", body="...")
        raise RuntimeError("the booking failed")
    assert callbacks == []
    assert not Message.objects.exists()
    assert esp_email == []


@pytest.mark.django_db
def test_delivery_starts_after_commit_through_the_task(
    client_obj, esp_email, q_sync, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        message = send_message(client=client_obj, channel="email", subject="A", body="...")
        assert esp_email == []  # nothing goes out inside the caller's transaction
    assert statuses(message) == [Message.Status.SENT]
    assert len(esp_email) == 1


@pytest.mark.django_db
def test_send_message_refuses_unknown_links_and_channels(client_obj):
    with pytest.raises(TypeError):
        send_message(client=client_obj, channel="email", body="...", automation="x")
    with pytest.raises(ValueError):
        send_message(client=client_obj, channel="fax", body="...")


@pytest.mark.django_db
def test_transactional_messages_go_before_marketing(trainer, esp_email):
    fan = ClientFactory(trainer=trainer, email_marketing=True)
    offers = [send_message(client=fan, channel="email", body="offer", category="marketing") for _ in range(3)]
    reminder = send_message(client=fan, channel="email", body="Tomorrow 9:00")
    batch = claim_batch(limit=2)
    # Claimed: the reminder and the oldest offer (handled in id order within the batch).
    assert {m.pk for m in batch} == {reminder.pk, offers[0].pk}


@pytest.mark.django_db
def test_marketing_email_is_throttled_per_minute_and_transactional_is_not(trainer, esp_email, settings):
    settings.MARKETING_EMAILS_PER_MINUTE = 3
    settings.MARKETING_WEEKLY_CAP_PER_CLIENT = 0
    fans = [ClientFactory(trainer=trainer, email_marketing=True) for _ in range(5)]
    with time_machine.travel(NOON, tick=False) as clock:
        offers = [send_message(client=f, channel="email", body="offer", category="marketing") for f in fans]
        reminders = [send_message(client=f, channel="email", body="reminder") for f in fans]
        assert deliver_due(limit=100) == 5 + 3
        assert [m.status for m in map(lambda m: Message.objects.get(pk=m.pk), offers)].count("sent") == 3
        assert set(statuses(*reminders)) == {Message.Status.SENT}

        clock.move_to(NOON + timedelta(seconds=30))
        assert deliver_due(limit=100) == 0  # the minute is not over
        clock.move_to(NOON + timedelta(seconds=61))
        assert deliver_due(limit=100) == 2
    assert set(statuses(*offers)) == {Message.Status.SENT}


@pytest.mark.django_db
def test_the_task_drains_the_queue_in_batches(client_obj, esp_email, settings):
    settings.MESSAGING_BATCH_SIZE = 4
    messages = [send_message(client=client_obj, channel="in_app", body=str(i)) for i in range(10)]
    assert deliver_pending() == 10
    assert set(statuses(*messages)) == {Message.Status.DELIVERED}


# --- A worker killed mid-batch ----------------------------------------------------------


@pytest.mark.django_db
def test_a_worker_killed_mid_batch_leaves_nothing_stuck(client_obj, twilio_http, settings):
    settings.MESSAGING_SENDING_TIMEOUT_SECONDS = 600
    with time_machine.travel(NOON, tick=False) as clock:
        done, in_flight, untouched, in_app = (
            send_message(client=client_obj, channel="sms", body="1"),
            send_message(client=client_obj, channel="sms", body="2"),
            send_message(client=client_obj, channel="sms", body="3"),
            send_message(client=client_obj, channel="in_app", body="4"),
        )
        batch = claim_batch(limit=10)
        assert len(batch) == 4
        # The worker delivers the first message, starts calling Twilio for the
        # second and is SIGKILLed: no finally block, no cleanup.
        deliver_claimed(batch[:1])
        assert statuses(in_flight, untouched, in_app) == [Message.Status.SENDING] * 3

        # A live worker that is merely slow is left alone.
        clock.move_to(NOON + timedelta(seconds=599))
        assert recover_stuck() == 0

        clock.move_to(NOON + timedelta(seconds=601))
        deliver_due(limit=10)

    assert statuses(done, untouched, in_app) == [
        Message.Status.SENT,
        Message.Status.SENT,
        Message.Status.DELIVERED,
    ]
    in_flight.refresh_from_db()
    assert in_flight.status == Message.Status.FAILED
    assert in_flight.error.startswith("outcome unknown")
    assert not Message.objects.filter(status=Message.Status.SENDING).exists()
    # Twilio saw 1, 3 — never a second copy of 2.
    assert [r["data"]["Body"] for r in twilio_http.requests] == ["1", "3"]


@pytest.mark.django_db
def test_a_batch_out_of_time_hands_its_unstarted_messages_back(client_obj, esp_email):
    messages = [send_message(client=client_obj, channel="in_app", body=str(i)) for i in range(3)]
    batch = claim_batch(limit=10)
    assert deliver_claimed(batch, deadline=0) == 0  # the deadline has already passed
    assert set(statuses(*messages)) == {Message.Status.QUEUED}


@pytest.mark.django_db
def test_staff_can_retry_a_failed_message_and_cancel_a_queued_one(client_obj, esp_email, admin_client):
    failed = send_message(client=client_obj, channel="email", body="x")
    Message.objects.filter(pk=failed.pk).update(status=Message.Status.FAILED, attempts=5, error="boom")
    queued = send_message(client=client_obj, channel="email", body="y")
    sent = send_message(client=client_obj, channel="email", body="z")
    Message.objects.filter(pk=sent.pk).update(status=Message.Status.SENT)

    url = "/admin/messaging/message/"
    admin_client.post(url, {"action": "retry_now", "_selected_action": [failed.pk, sent.pk]})
    admin_client.post(url, {"action": "cancel", "_selected_action": [queued.pk, sent.pk]})

    assert statuses(failed, queued, sent) == [
        Message.Status.QUEUED,
        Message.Status.CANCELLED,
        Message.Status.SENT,
    ]
    assert Message.objects.get(pk=failed.pk).attempts == 0
    page = admin_client.get(f"{url}{failed.pk}/change/")
    assert page.status_code == 200
    assert b"retry now by" in page.content  # the history shows who did it


@pytest.mark.django_db
def test_a_trainer_sees_only_their_clients_messages_in_the_admin(trainer, other_trainer, trainer_client):
    mine = send_message(client=ClientFactory(trainer=trainer), channel="in_app", body="mine")
    theirs = send_message(client=ClientFactory(trainer=other_trainer), channel="in_app", body="theirs")
    assert trainer_client.get(f"/admin/messaging/message/{mine.pk}/change/").status_code == 200
    assert trainer_client.get(f"/admin/messaging/message/{theirs.pk}/change/").status_code == 302
    listing = trainer_client.get("/admin/messaging/message/")
    assert b"mine" in listing.content and b"theirs" not in listing.content


@pytest.mark.django_db
def test_staff_compose_an_sms_in_the_admin_and_are_warned_about_its_cost(trainer, trainer_client):
    client = ClientFactory(trainer=trainer)
    response = trainer_client.post(
        "/admin/messaging/message/add/",
        {
            "client": client.pk,
            "channel": "sms",
            "category": "transactional",
            "subject": "",
            "body": "Well done 💪",
        },
        follow=True,
    )
    assert response.status_code == 200
    message = Message.objects.get()
    assert message.sent_by == trainer
    assert message.status == Message.Status.QUEUED
    assert b"not GSM-7" in response.content


# --- PostgreSQL: concurrent workers ------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_workers_never_claim_the_same_message(trainer):
    client = ClientFactory(trainer=trainer)
    Message.objects.bulk_create(
        [Message(client=client, channel="in_app", body=str(i), next_attempt_at=NOON) for i in range(200)]
    )
    claimed = []

    def claim_until_empty():
        while batch := claim_batch(limit=15):
            claimed.extend(m.pk for m in batch)

    run_in_threads(claim_until_empty, count=4)
    assert len(claimed) == 200
    assert len(set(claimed)) == 200


@pytest.mark.django_db
def test_the_periodic_delivery_schedule_exists_once_by_name():
    from django_q.models import Schedule

    (schedule,) = Schedule.objects.filter(func="messaging.tasks.deliver_pending")
    assert schedule.name == "messaging: deliver due messages"
    assert schedule.schedule_type == Schedule.MINUTES
    assert schedule.minutes == 1

    # Running the post-migrate step again (a re-run, a restore) keeps a single row.
    from messaging.schedules import ensure_schedule

    ensure_schedule()
    assert Schedule.objects.filter(func="messaging.tasks.deliver_pending").count() == 1


@pytest.mark.django_db
def test_an_unexpected_error_in_one_message_does_not_stall_the_batch(
    client_obj, esp_email, monkeypatch, caplog
):
    from messaging.channels.email import EmailChannel

    original = EmailChannel.send

    def send(self, message):
        if message.body == "bad":
            raise KeyError("template variable")
        return original(self, message)

    monkeypatch.setattr(EmailChannel, "send", send)
    with time_machine.travel(NOON, tick=False):
        bad = send_message(client=client_obj, channel="email", body="bad")
        good = send_message(client=client_obj, channel="email", body="good")
        assert deliver_due(limit=10) == 2
    assert statuses(bad, good) == [Message.Status.QUEUED, Message.Status.SENT]
    assert "unexpected error" in Message.objects.get(pk=bad.pk).error
    assert "unexpected error sending message" in caplog.text


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_workers_share_one_marketing_email_budget(trainer, settings):
    settings.MARKETING_EMAILS_PER_MINUTE = 50
    client = ClientFactory(trainer=trainer, email_marketing=True)
    Message.objects.bulk_create(
        [
            Message(client=client, channel="email", category="marketing", body=str(i), next_attempt_at=NOON)
            for i in range(200)
        ]
    )
    claimed = []

    def claim_five_batches():
        for _ in range(5):
            claimed.extend(m.pk for m in claim_batch(limit=20))

    run_in_threads(claim_five_batches, count=4)
    assert len(claimed) == 50
    assert len(set(claimed)) == 50
