import datetime as dt

import pytest
import time_machine
from django.core import mail
from django.core.exceptions import ValidationError

from campaigns import services
from campaigns.models import Campaign
from clients.models import Client
from messaging.delivery import deliver_due
from messaging.models import Message
from tests.factories import ClientFactory

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 6, 15, 10, 0, tzinfo=dt.UTC)


def plan_now(campaign, now=NOW):
    Campaign.objects.filter(pk=campaign.pk).update(status=Campaign.Status.SCHEDULED, scheduled_at=now)
    return services.campaign_plan(campaign_id=campaign.pk, now=now)


def test_planning_creates_one_marketing_email_per_recipient(make_campaign, consenting_client):
    ann = consenting_client(first_name="Ann", email="ann@example.com")
    bob = consenting_client(first_name="Bob")
    campaign = make_campaign()

    result = plan_now(campaign)

    assert result.recipients == 2
    messages = {m.client_id: m for m in Message.objects.filter(campaign=campaign)}
    assert set(messages) == {ann.pk, bob.pk}
    first = messages[ann.pk]
    assert (first.channel, first.category, first.status) == ("email", "marketing", "queued")
    assert first.to_address == "ann@example.com"
    assert first.subject == "News for Ann"
    assert first.body == "Hi Ann!"
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.SENDING
    assert campaign.recipients_count == 2
    assert campaign.planned_at == NOW


def test_clients_who_may_not_receive_marketing_are_counted_by_reason(make_campaign, consenting_client):
    consenting_client(first_name="Ok")
    consenting_client(first_name="NoEmail", email="")
    consenting_client(first_name="Unsub", email_unsubscribed_at=NOW)
    consenting_client(first_name="Bounced", email_suppressed_at=NOW, email_suppressed_reason="hard bounce")
    ClientFactory(first_name="NoConsent", email_marketing=False)
    ClientFactory(first_name="NoConsent2", email_marketing=False)
    campaign = make_campaign()

    result = plan_now(campaign)

    assert result.recipients == 1
    campaign.refresh_from_db()
    assert campaign.excluded_counts == {
        "no email address": 1,
        "unsubscribed from email": 1,
        "email address suppressed (hard bounce)": 1,
        "no consent to marketing email": 2,
    }
    assert campaign.excluded_total == 5
    assert list(Message.objects.filter(campaign=campaign).values_list("client__first_name", flat=True)) == [
        "Ok"
    ]


def test_planning_twice_never_doubles_a_recipient(make_campaign, consenting_client):
    for _ in range(3):
        consenting_client()
    campaign = make_campaign()
    plan_now(campaign)

    # A second planner (a retried task, an overlapping check) that got past the claim.
    again = services.plan_recipients(campaign=campaign, now=NOW)

    assert again.recipients == 3
    assert Message.objects.filter(campaign=campaign).count() == 3
    # And the claim stops a second planning of the same campaign outright.
    assert services.campaign_plan(campaign_id=campaign.pk, now=NOW) is None


def test_segment_is_evaluated_when_the_campaign_is_sent_not_when_drafted(make_campaign, consenting_client):
    leaving = consenting_client(first_name="Leaving")
    consenting_client(first_name="Staying")
    campaign = make_campaign(status=Client.Status.ACTIVE)
    # After drafting: one client goes inactive, one becomes active, one withdraws consent.
    Client.objects.filter(pk=leaving.pk).update(status=Client.Status.INACTIVE)
    consenting_client(first_name="Joined")
    withdrawn = consenting_client(first_name="Withdrawn")
    Client.objects.filter(pk=withdrawn.pk).update(email_marketing=False)

    plan_now(campaign)

    names = set(Message.objects.filter(campaign=campaign).values_list("client__first_name", flat=True))
    assert names == {"Staying", "Joined"}
    campaign.refresh_from_db()
    assert campaign.excluded_counts == {"no consent to marketing email": 1}


def test_planning_queries_do_not_grow_with_recipients(
    make_campaign, consenting_client, django_assert_max_num_queries
):
    for _ in range(30):
        consenting_client()
    campaign = make_campaign(subject="{{ first_name }}", body="{{ trainer_name }} says hi")
    Campaign.objects.filter(pk=campaign.pk).update(status=Campaign.Status.SCHEDULED, scheduled_at=NOW)
    # claim (savepoint + UPDATE), the campaign, the segment's tags, the owner's and
    # the creator's roles, the clients with their trainers, one INSERT, the recipient
    # count, the bookkeeping UPDATE, the finish check, savepoint release.
    with django_assert_max_num_queries(14):
        services.campaign_plan(campaign_id=campaign.pk, now=NOW)
    assert Message.objects.filter(campaign=campaign, body__endswith="says hi").count() == 30


def test_a_campaign_with_no_recipients_is_sent_at_once(make_campaign):
    campaign = make_campaign(status=Client.Status.LEAD)
    plan_now(campaign)
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.SENT
    assert campaign.recipients_count == 0


def test_send_now_plans_after_commit_and_delivers(
    make_campaign, consenting_client, q_sync, django_capture_on_commit_callbacks
):
    consenting_client(first_name="Ann")
    consenting_client(first_name="Bob")
    campaign = make_campaign()

    with django_capture_on_commit_callbacks(execute=True):
        services.campaign_send_now(campaign=campaign, user=campaign.created_by)

    assert sorted(m.subject for m in mail.outbox) == ["News for Ann", "News for Bob"]
    assert all(m.extra_headers.get("List-Unsubscribe") for m in mail.outbox)
    services.finish_campaigns()
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.SENT
    assert campaign.finished_at is not None


def test_invalid_template_is_refused_at_save(make_campaign):
    campaign = make_campaign()
    campaign.body = "Hi {{ client.trainer.password }} {% load static %}"
    with pytest.raises(ValidationError) as exc:
        services.campaign_save(campaign=campaign, user=campaign.created_by)
    assert "body" in exc.value.message_dict
    campaign.body = "Hi {{ nickname }}"
    with pytest.raises(ValidationError, match="Unknown variable 'nickname'"):
        services.campaign_save(campaign=campaign, user=campaign.created_by)


def test_a_sent_campaign_can_no_longer_be_edited(make_campaign):
    campaign = make_campaign()
    plan_now(campaign)
    campaign.refresh_from_db()
    campaign.subject = "changed"
    with pytest.raises(ValidationError, match="can no longer change"):
        services.campaign_save(campaign=campaign, user=campaign.created_by)


def test_saving_a_stale_form_after_the_planner_claimed_the_campaign_changes_nothing(make_campaign):
    campaign = make_campaign()
    stale = Campaign.objects.get(pk=campaign.pk)
    plan_now(campaign)
    stale.subject = "too late"
    with pytest.raises(ValidationError):
        services.campaign_save(campaign=stale, user=stale.created_by)
    campaign.refresh_from_db()
    assert (campaign.status, campaign.subject) == ("sent", "News for {{ first_name }}")


def test_a_template_that_no_longer_validates_returns_the_campaign_to_draft(make_campaign, consenting_client):
    consenting_client()
    campaign = make_campaign()
    # Written before a variable was withdrawn, say: saved without validation.
    Campaign.objects.filter(pk=campaign.pk).update(body="Hi {{ nickname }}")

    assert plan_now(campaign) is None

    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.DRAFT
    assert "Unknown variable 'nickname'" in campaign.error
    assert not Message.objects.filter(campaign=campaign).exists()


# --- Cancel ------------------------------------------------------------------------


def test_cancel_mid_send_cancels_what_is_queued_and_leaves_what_was_sent(make_campaign, consenting_client):
    for _ in range(5):
        consenting_client()
    campaign = make_campaign()
    with time_machine.travel(NOW, tick=False):
        plan_now(campaign)
        assert deliver_due(limit=2) == 2

        cancelled = services.campaign_cancel(campaign=campaign)

        assert cancelled == 3
        assert deliver_due(limit=10) == 0
    statuses = sorted(Message.objects.filter(campaign=campaign).values_list("status", flat=True))
    assert statuses == ["cancelled"] * 3 + ["sent"] * 2
    assert len(mail.outbox) == 2
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.CANCELLED
    assert campaign.cancelled_at == NOW
    with pytest.raises(ValidationError):
        services.campaign_cancel(campaign=campaign)


def test_cancel_leaves_a_message_already_claimed_by_a_worker(make_campaign, consenting_client):
    consenting_client()
    campaign = make_campaign()
    plan_now(campaign)
    Message.objects.filter(campaign=campaign).update(status=Message.Status.SENDING)
    assert services.campaign_cancel(campaign=campaign) == 0
    assert Message.objects.get(campaign=campaign).status == Message.Status.SENDING


def test_a_cancelled_scheduled_campaign_is_never_planned(make_campaign, consenting_client):
    consenting_client()
    campaign = make_campaign()
    with time_machine.travel(NOW, tick=False):
        services.campaign_schedule(campaign=campaign, at=NOW + dt.timedelta(hours=1))
    services.campaign_cancel(campaign=campaign)
    assert services.send_due_campaigns(now=NOW + dt.timedelta(hours=2)) == 0
    assert not Message.objects.filter(campaign=campaign).exists()


# --- Throttle --------------------------------------------------------------------------


def test_marketing_email_is_throttled_and_transactional_mail_overtakes_it(
    make_campaign, consenting_client, settings
):
    from messaging.services import send_message

    settings.MARKETING_EMAILS_PER_MINUTE = 3
    for _ in range(7):
        consenting_client()
    campaign = make_campaign()
    with time_machine.travel(NOW, tick=False):
        plan_now(campaign)
    reminder_client = ClientFactory(first_name="Reminded")
    with time_machine.travel(NOW + dt.timedelta(seconds=5), tick=False):
        # Queued after the whole campaign, sent before it.
        reminder = send_message(client=reminder_client, channel="email", subject="Reminder", body="See you")
        # The engine's next batch of one takes the reminder, not the oldest campaign email.
        assert deliver_due(limit=1) == 1
        reminder.refresh_from_db()
        assert reminder.status == Message.Status.SENT
        assert [m.subject for m in mail.outbox] == ["Reminder"]
        # The rest of this minute: the throttle allows 3 marketing emails.
        assert deliver_due(limit=50) == 3
        assert deliver_due(limit=50) == 0

    sent_per_minute = []
    for minute in range(1, 4):
        with time_machine.travel(NOW + dt.timedelta(seconds=5, minutes=minute), tick=False):
            sent_per_minute.append(deliver_due(limit=50))
            assert deliver_due(limit=50) == 0
    assert sent_per_minute == [3, 1, 0]
    assert Message.objects.filter(campaign=campaign, status=Message.Status.SENT).count() == 7
