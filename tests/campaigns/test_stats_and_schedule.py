import datetime as dt

import pytest
import time_machine
from anymail.signals import AnymailTrackingEvent, tracking
from django.core import mail
from django.core.exceptions import ValidationError
from django.urls import reverse
from django_q.models import Schedule

from campaigns import services
from campaigns.models import Campaign
from campaigns.schedules import SCHEDULE_FUNC, SCHEDULE_NAME, ensure_schedule
from campaigns.selectors import campaign_stats
from messaging.delivery import deliver_due
from messaging.models import Message

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 6, 15, 10, 0, tzinfo=dt.UTC)


def esp_event(message, event_type, event_id):
    tracking.send(
        sender=object,
        event=AnymailTrackingEvent(
            event_type=event_type,
            message_id=message.provider_id,
            event_id=event_id,
            recipient=message.to_address,
        ),
        esp_name="TestESP",
    )


def test_statistics_match_the_tracking_events_fed_through_anymail(
    make_campaign, consenting_client, anymail_backend, django_assert_num_queries
):
    for i in range(6):
        consenting_client(first_name=f"C{i}")
    consenting_client(first_name="NoEmail", email="")
    campaign = make_campaign()
    with time_machine.travel(NOW, tick=False):
        Campaign.objects.filter(pk=campaign.pk).update(status="scheduled", scheduled_at=NOW)
        services.campaign_plan(campaign_id=campaign.pk, now=NOW)
        assert deliver_due(limit=5) == 5  # one stays queued
    m = list(Message.objects.filter(campaign=campaign, status="sent").order_by("pk"))
    assert all(msg.provider_id for msg in m)

    with time_machine.travel(NOW + dt.timedelta(minutes=5), tick=False):
        for i, msg in enumerate(m[:4]):
            esp_event(msg, "delivered", f"d{i}")
        esp_event(m[0], "opened", "o0")
        esp_event(m[0], "opened", "o0-again")  # a second open counts the message once
        esp_event(m[0], "opened", "o0-again")  # the ESP retrying its webhook
        esp_event(m[1], "opened", "o1")
        esp_event(m[1], "clicked", "c1")
        esp_event(m[2], "complained", "x2")
        esp_event(m[3], "unsubscribed", "u3")
        esp_event(m[4], "bounced", "b4")

    # A test send is not a recipient and not counted.
    campaign.created_by.email = "boss@studio.example"
    services.campaign_send_test(campaign=campaign, user=campaign.created_by)
    campaign.refresh_from_db()

    # One aggregate query over the campaign's messages, events as EXISTS subqueries.
    with django_assert_num_queries(1):
        stats = campaign_stats(campaign)

    assert stats.recipients == 6
    assert stats.excluded == {"no email address": 1}
    assert {row.label: row.count for row in stats.rows} == {
        "recipients": 6,
        "queued": 1,
        "sent": 5,
        "delivered": 4,
        "opened": 2,
        "clicked": 1,
        "bounced": 1,
        "complained": 1,
        "unsubscribed": 1,
        "failed": 1,  # the bounce
        "suppressed": 0,
        "cancelled": 0,
    }
    rates = {row.label: row.percent for row in stats.rows}
    assert rates["sent"] == "83.3%"  # of recipients
    assert rates["opened"] == "40.0%"  # of sent
    assert rates["delivered"] == "80.0%"


def test_unsubscribing_through_the_link_after_the_campaign_counts(make_campaign, consenting_client):
    from clients.models import ConsentChange
    from clients.services import client_email_unsubscribe

    client = consenting_client()
    campaign = make_campaign()
    with time_machine.travel(NOW, tick=False):
        Campaign.objects.filter(pk=campaign.pk).update(status="scheduled", scheduled_at=NOW)
        services.campaign_plan(campaign_id=campaign.pk, now=NOW)
        deliver_due()
    with time_machine.travel(NOW + dt.timedelta(hours=1), tick=False):
        client_email_unsubscribe(client=client, source=ConsentChange.Source.UNSUBSCRIBE_LINK)
    assert campaign_stats(campaign).count("unsubscribed") == 1


# --- Test send ---------------------------------------------------------------------


def test_test_send_goes_to_the_staff_member_marked_and_uncounted(
    make_campaign, consenting_client, q_sync, django_capture_on_commit_callbacks, manager
):
    client = consenting_client(first_name="Ann")
    campaign = make_campaign(body="Hi {{ first_name }}, leave: {{ unsubscribe_link }}")

    with django_capture_on_commit_callbacks(execute=True):
        message = services.campaign_send_test(campaign=campaign, user=manager, client=client)

    assert len(mail.outbox) == 1
    email = mail.outbox[0]
    assert email.to == [manager.email]
    assert email.subject == "[TEST] News for Ann"
    # The real client's unsubscribe link never leaves in a test.
    assert "sample-token" in email.body
    message.refresh_from_db()
    assert message.status == Message.Status.SENT
    assert message.client is None
    assert campaign_stats(campaign).recipients == 0
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.DRAFT


def test_test_send_needs_the_staff_members_address(make_campaign, manager):
    from django.core.exceptions import ValidationError

    manager.email = ""
    with pytest.raises(ValidationError):
        services.campaign_send_test(campaign=make_campaign(), user=manager)


# --- Scheduled sending through django-q2 --------------------------------------------------


def test_scheduled_campaign_goes_out_when_due_via_the_django_q_schedule(
    make_campaign, consenting_client, q_sync, django_capture_on_commit_callbacks
):
    from django_q.scheduler import scheduler

    consenting_client(first_name="Ann")
    campaign = make_campaign()
    send_at = NOW + dt.timedelta(hours=2)
    with time_machine.travel(NOW, tick=False):
        ensure_schedule()
        ensure_schedule()  # idempotent by name
        services.campaign_schedule(campaign=campaign, at=send_at, user=campaign.created_by)
    schedule = Schedule.objects.get(name=SCHEDULE_NAME)
    assert schedule.func == SCHEDULE_FUNC
    assert Schedule.objects.filter(name=SCHEDULE_NAME).count() == 1
    # (The test database's schedule was created by migrate, at the real time.)
    Schedule.objects.filter(name=SCHEDULE_NAME).update(next_run=NOW)

    with time_machine.travel(NOW + dt.timedelta(hours=1), tick=False):
        with django_capture_on_commit_callbacks(execute=True):
            scheduler()
        campaign.refresh_from_db()
        assert campaign.status == Campaign.Status.SCHEDULED
        assert not Message.objects.filter(campaign=campaign).exists()

    with (
        time_machine.travel(send_at + dt.timedelta(seconds=30), tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        scheduler()
    campaign.refresh_from_db()
    assert campaign.status in (Campaign.Status.SENDING, Campaign.Status.SENT)
    assert Message.objects.filter(campaign=campaign).count() == 1
    assert [m.subject for m in mail.outbox] == ["News for Ann"]


def test_due_check_finishes_campaigns_whose_messages_are_done(make_campaign, consenting_client):
    consenting_client()
    campaign = make_campaign()
    with time_machine.travel(NOW, tick=False):
        services.campaign_send_now(campaign=campaign)
        services.send_due_campaigns(now=NOW)
        campaign.refresh_from_db()
        assert campaign.status == Campaign.Status.SENDING
        deliver_due()
        services.send_due_campaigns(now=NOW)
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.SENT


def test_a_client_who_unsubscribes_after_planning_is_suppressed_not_emailed(make_campaign, consenting_client):
    from clients.models import ConsentChange
    from clients.services import client_email_unsubscribe

    leaving = consenting_client(first_name="Leaving")
    consenting_client(first_name="Staying")
    campaign = make_campaign()
    with time_machine.travel(NOW, tick=False):
        Campaign.objects.filter(pk=campaign.pk).update(status="scheduled", scheduled_at=NOW)
        services.campaign_plan(campaign_id=campaign.pk, now=NOW)
        client_email_unsubscribe(client=leaving, source=ConsentChange.Source.UNSUBSCRIBE_LINK)
        deliver_due()
    assert [m.subject for m in mail.outbox] == ["News for Staying"]
    campaign.refresh_from_db()
    stats = campaign_stats(campaign)
    assert (stats.count("sent"), stats.count("suppressed"), stats.count("unsubscribed")) == (1, 1, 0)


def test_scheduling_at_a_time_already_past_is_refused(make_campaign, manager_client):
    campaign = make_campaign()
    with time_machine.travel(NOW, tick=False):
        for past in (NOW, NOW - dt.timedelta(minutes=1), NOW - dt.timedelta(days=365)):
            with pytest.raises(ValidationError, match="Send now"):
                services.campaign_schedule(campaign=campaign, at=past)
        Campaign.objects.filter(pk=campaign.pk).update(scheduled_at=NOW - dt.timedelta(hours=1))
        page = manager_client.post(
            reverse("admin:campaigns_campaign_schedule", args=[campaign.pk]), follow=True
        ).content.decode()
    assert "That time has passed" in page
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.DRAFT
    assert not Message.objects.filter(campaign=campaign).exists()


def test_schedule_asks_to_confirm_the_recipient_count_as_send_now_does(
    make_campaign, manager_client, consenting_client
):
    consenting_client()
    campaign = make_campaign()
    Campaign.objects.filter(pk=campaign.pk).update(scheduled_at=NOW + dt.timedelta(days=1))
    with time_machine.travel(NOW, tick=False):
        page = manager_client.get(
            reverse("admin:campaigns_campaign_change", args=[campaign.pk])
        ).content.decode()
    assert "Schedule this campaign for 1 matching client(s)" in page
