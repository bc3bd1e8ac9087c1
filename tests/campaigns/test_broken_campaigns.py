"""A campaign that cannot be planned never takes the others down with it.

Causes 1 and 2 of the hardening issue: a template whose filter arguments fail at
render time, and segment day counts that overflow the date arithmetic.
"""

import datetime as dt

import pytest
from django.contrib.auth.models import Permission
from django.core.exceptions import ValidationError
from django.db import OperationalError

from automation.models import AutomationRule, TriggerEvent
from campaigns import services
from campaigns.models import MAX_SEGMENT_DAYS, Campaign, Segment
from messaging.models import Message
from tests.factories import ClientFactory

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 6, 15, 10, 0, tzinfo=dt.UTC)
BROKEN = "Hi {{ first_name|wordwrap:0 }}"


@pytest.fixture(autouse=True)
def campaign_perms(manager):
    manager.user_permissions.add(*Permission.objects.filter(content_type__app_label="campaigns"))


def schedule(campaign, minutes_ago):
    Campaign.objects.filter(pk=campaign.pk).update(
        status=Campaign.Status.SCHEDULED, scheduled_at=NOW - dt.timedelta(minutes=minutes_ago)
    )


def statuses(*campaigns):
    return [Campaign.objects.get(pk=c.pk).status for c in campaigns]


# --- Cause 1: filter arguments ---------------------------------------------------------


def test_a_filter_argument_that_cannot_render_is_a_form_error_on_the_campaign_page(manager_client, manager):
    segment = Segment.objects.create(name="all", owner=manager)
    response = manager_client.post(
        "/admin/campaigns/campaign/add/",
        {"name": "Spring", "segment": segment.pk, "subject": "News", "body": BROKEN},
    )
    assert response.status_code == 200
    assert "The filter &#x27;wordwrap&#x27; needs a whole number" in response.content.decode()
    assert not Campaign.objects.exists()


def test_a_filter_argument_that_cannot_render_is_a_form_error_on_the_rule_page(manager_client):
    response = manager_client.post(
        "/admin/automation/automationrule/add/",
        {
            "name": "Wrapped",
            "trigger_event": "session_created",
            "offset_hours": 0,
            "late_booking": "send_now",
            "channel": "sms",
            "category": "",
            "body_template": "Hi {{ first_name|truncatechars:1e999 }}",
            "is_active": "on",
        },
    )
    assert response.status_code == 200
    assert "The filter &#x27;truncatechars&#x27;" in response.content.decode()
    assert not AutomationRule.objects.exists()


def test_a_stored_campaign_that_cannot_render_goes_back_to_draft_and_the_others_are_planned(
    make_campaign, consenting_client
):
    consenting_client(first_name="Ann")
    older, broken, newer = make_campaign(), make_campaign(), make_campaign()
    # Saved before filter arguments were checked.
    Campaign.objects.filter(pk=broken.pk).update(body=BROKEN)
    schedule(older, 30)
    schedule(broken, 20)
    schedule(newer, 10)

    assert services.send_due_campaigns(now=NOW) == 2

    assert statuses(older, newer) == [Campaign.Status.SENDING] * 2
    broken.refresh_from_db()
    assert broken.status == Campaign.Status.DRAFT
    assert "wordwrap" in broken.error
    assert not Message.objects.filter(campaign=broken).exists()
    # The next check has nothing left to trip on.
    assert services.send_due_campaigns(now=NOW) == 0


def test_an_unexpected_planning_failure_is_recorded_on_that_campaign_only(
    make_campaign, consenting_client, monkeypatch
):
    consenting_client()
    broken, fine = make_campaign(), make_campaign()
    schedule(broken, 20)
    schedule(fine, 10)
    real = services.plan_recipients

    def plan_recipients(*, campaign, now):
        if campaign.pk == broken.pk:
            raise OverflowError("date value out of range")
        return real(campaign=campaign, now=now)

    monkeypatch.setattr(services, "plan_recipients", plan_recipients)

    assert services.send_due_campaigns(now=NOW) == 1

    assert statuses(broken, fine) == [Campaign.Status.DRAFT, Campaign.Status.SENDING]
    broken.refresh_from_db()
    assert broken.error == "Planning failed (OverflowError: date value out of range)."


def test_a_database_outage_while_planning_leaves_the_campaign_scheduled_and_the_rest_go(
    make_campaign, consenting_client, monkeypatch
):
    consenting_client()
    flaky, fine = make_campaign(), make_campaign()
    schedule(flaky, 20)
    schedule(fine, 10)
    real = services.plan_recipients

    def plan_recipients(*, campaign, now):
        if campaign.pk == flaky.pk:
            raise OperationalError("server closed the connection unexpectedly")
        return real(campaign=campaign, now=now)

    monkeypatch.setattr(services, "plan_recipients", plan_recipients)

    assert services.send_due_campaigns(now=NOW) == 1
    # Not the campaign's fault: tried again at the next check.
    assert statuses(flaky, fine) == [Campaign.Status.SCHEDULED, Campaign.Status.SENDING]


def test_the_campaign_page_and_test_send_explain_a_stored_template_that_cannot_render(
    manager_client, make_campaign
):
    ClientFactory(first_name="Ann", email_marketing=True)
    campaign = make_campaign()
    Campaign.objects.filter(pk=campaign.pk).update(body=BROKEN)
    base = f"/admin/campaigns/campaign/{campaign.pk}"

    page = manager_client.get(f"{base}/change/")
    assert page.status_code == 200
    assert "The filter &#x27;wordwrap&#x27;" in page.content.decode()

    response = manager_client.post(f"{base}/send-test/", follow=True)
    assert response.status_code == 200
    assert "The filter &#x27;wordwrap&#x27;" in response.content.decode()
    assert not Message.objects.exists()


def test_the_rule_page_and_test_send_explain_a_stored_template_that_cannot_render(manager_client):
    # Saved before filter arguments were checked.
    rule = AutomationRule.objects.create(
        name="Birthday", trigger_event=TriggerEvent.BIRTHDAY, channel="sms", body_template=BROKEN
    )

    page = manager_client.get(f"/admin/automation/automationrule/{rule.pk}/change/")
    assert page.status_code == 200
    assert "The filter &#x27;wordwrap&#x27;" in page.content.decode()

    response = manager_client.post(
        "/admin/automation/automationrule/",
        {"action": "send_test_to_me", "_selected_action": [rule.pk]},
        follow=True,
    )
    assert response.status_code == 200
    assert "not sent: The filter &#x27;wordwrap&#x27;" in response.content.decode()
    assert not Message.objects.exists()


# --- Cause 2: segment bounds ------------------------------------------------------------


@pytest.mark.parametrize(
    "field, value",
    [
        ("no_completed_session_days", 2147483647),
        ("session_in_next_days", 3000000),
        ("session_in_next_days", MAX_SEGMENT_DAYS + 1),
        ("joined_after", dt.date(1, 1, 1)),
        ("joined_before", dt.date(9999, 12, 31)),
    ],
)
def test_segment_conditions_beyond_their_bounds_are_refused(manager, field, value):
    segment = Segment(name="far", owner=manager, **{field: value})
    with pytest.raises(ValidationError) as exc:
        segment.full_clean()
    assert field in exc.value.message_dict


def test_a_day_count_beyond_the_bound_is_a_form_error_on_the_segment_page(manager_client):
    response = manager_client.post(
        "/admin/campaigns/segment/add/",
        {"name": "Lapsed", "tags_match": "any", "no_completed_session_days": "2147483647"},
    )
    assert response.status_code == 200
    assert f"less than or equal to {MAX_SEGMENT_DAYS}" in response.content.decode()
    assert not Segment.objects.exists()


def test_joined_dates_in_the_wrong_order_are_refused(manager):
    segment = Segment(
        name="never", owner=manager, joined_after=dt.date(2026, 2, 1), joined_before=dt.date(2026, 1, 1)
    )
    with pytest.raises(ValidationError, match="Must be after"):
        segment.full_clean()


def test_the_largest_day_counts_evaluate(manager, make_campaign, consenting_client):
    consenting_client()
    campaign = make_campaign(no_completed_session_days=MAX_SEGMENT_DAYS, session_in_next_days=None)
    campaign.segment.full_clean()
    schedule(campaign, 1)
    assert services.send_due_campaigns(now=NOW) == 1


def test_a_stored_overflowing_segment_shows_its_page_and_never_blocks_planning(
    manager_client, make_campaign, consenting_client
):
    consenting_client(first_name="Ann")
    older, on_huge_segment = make_campaign(), make_campaign()
    # Written before the validators existed.
    Segment.objects.filter(pk=on_huge_segment.segment_id).update(
        no_completed_session_days=2147483647, session_in_next_days=3000000
    )
    schedule(older, 20)
    schedule(on_huge_segment, 10)

    page = manager_client.get(f"/admin/campaigns/segment/{on_huge_segment.segment_id}/change/")
    assert page.status_code == 200
    assert services.send_due_campaigns(now=NOW) == 2
    assert statuses(older, on_huge_segment) == [Campaign.Status.SENDING, Campaign.Status.SENT]


# --- Found by the URL walk ----------------------------------------------------------------


def test_saving_the_page_of_a_campaign_that_is_already_sending_shows_the_reason_not_a_500(
    manager_client, make_campaign
):
    campaign = make_campaign()
    Campaign.objects.filter(pk=campaign.pk).update(status=Campaign.Status.SENDING)
    url = f"/admin/campaigns/campaign/{campaign.pk}/change/"

    # Every content field is read-only now, so an empty form is valid; the service refuses it.
    response = manager_client.post(url, {}, follow=True)

    assert response.status_code == 200
    assert "can no longer change" in response.content.decode()
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.SENDING
