"""Announcements (reminders and notices, no marketing consent, managers only) and
marketing SMS campaigns (consent, STOP footer, segments, cost and cap before Send)."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied
from django.urls import reverse

from campaigns import selectors, services
from campaigns.models import Campaign, Segment
from clients.models import Category, Channel
from messaging.models import Message
from tests.factories import ClientFactory

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 12, 1, 10, 0, tzinfo=dt.UTC)


def plan_now(campaign):
    Campaign.objects.filter(pk=campaign.pk).update(status=Campaign.Status.SCHEDULED, scheduled_at=NOW)
    return services.campaign_plan(campaign_id=campaign.pk, now=NOW)


def make(kind, user, body="Hi {{ first_name }}, the studio is closed on 25 December.", subject=""):
    segment = Segment.objects.create(name="everyone", owner=user)
    return Campaign.objects.create(
        name="Closed", kind=kind, subject=subject, body=body, segment=segment, created_by=user
    )


def sent_to(campaign):
    return {
        m.client.first_name: (m.channel, m.category)
        for m in Message.objects.filter(campaign=campaign).select_related("client")
    }


def test_an_announcement_reaches_each_client_on_their_permitted_channel_without_marketing_consent(manager):
    ClientFactory(first_name="Email")  # no marketing consent anywhere: still told
    ClientFactory(first_name="NoEmail", email="")
    ClientFactory(first_name="EmailOff", email_reminders=False)
    ClientFactory(first_name="Nothing", email="", sms_opted_out_at=NOW)
    ClientFactory(first_name="Unsubscribed", email_unsubscribed_at=NOW, sms_reminders=False)
    campaign = make(Campaign.Kind.ANNOUNCEMENT, manager, subject="Closed on the 25th")
    result = plan_now(campaign)
    transactional = Category.TRANSACTIONAL
    assert sent_to(campaign) == {
        "Email": (Channel.EMAIL, transactional),
        "NoEmail": (Channel.SMS, transactional),
        "EmailOff": (Channel.SMS, transactional),
        "Nothing": (Channel.IN_APP, transactional),
        "Unsubscribed": (Channel.IN_APP, transactional),
    }
    assert result.recipients == 5 and not result.excluded
    sms = Message.objects.get(campaign=campaign, client__first_name="NoEmail")
    assert "STOP" not in sms.body and sms.subject == ""


def test_a_marketing_campaign_still_needs_marketing_consent(manager):
    ClientFactory(first_name="Consents", email_marketing=True)
    ClientFactory(first_name="Not")
    campaign = make(Campaign.Kind.EMAIL, manager, subject="News")
    plan_now(campaign)
    assert sent_to(campaign) == {"Consents": (Channel.EMAIL, Category.MARKETING)}


def test_announcements_are_for_managers_only(trainer, trainer_client):
    campaign = Campaign(
        name="x",
        kind=Campaign.Kind.ANNOUNCEMENT,
        body="Hi",
        segment=Segment.objects.create(name="s", owner=trainer),
    )
    with pytest.raises(PermissionDenied):
        services.campaign_save(campaign=campaign, user=trainer)
    page = trainer_client.get(reverse("admin:campaigns_campaign_add")).content.decode()
    assert 'value="sms"' in page and 'value="announcement"' not in page


def test_the_campaign_page_states_the_category_and_its_consent_rule(manager, manager_client):
    ClientFactory(first_name="Ann", email="")
    campaign = make(Campaign.Kind.ANNOUNCEMENT, manager)
    page = manager_client.get(reverse("admin:campaigns_campaign_change", args=[campaign.pk])).content.decode()
    assert "Announcement (reminders and notices)" in page and "no marketing consent needed" in page
    assert "It would go to <strong>1</strong> client (1 by sms)" in page


def test_an_sms_campaign_goes_to_marketing_sms_consent_only_with_the_stop_footer(manager):
    ClientFactory(first_name="Yes", sms_marketing=True)
    ClientFactory(first_name="Stopped", sms_marketing=True, sms_opted_out_at=NOW)
    ClientFactory(first_name="NoConsent")
    campaign = make(Campaign.Kind.SMS, manager, body="Hi {{ first_name }}, 20% off in December")
    result = plan_now(campaign)
    message = Message.objects.get(campaign=campaign)
    assert (message.client.first_name, message.channel, message.category) == ("Yes", "sms", "marketing")
    assert message.body == "Hi Yes, 20% off in December\nReply STOP to opt out"
    assert message.to_address == message.client.phone
    assert dict(result.excluded) == {"opted out of SMS (STOP)": 1, "no consent to marketing SMS": 1}


def test_sms_campaign_figures_segments_cost_and_cap_before_send(manager, manager_client, settings):
    settings.SMS_PRICE_PER_SEGMENT = "0.04"
    settings.SMS_MONTHLY_CAP = 500
    for name in ("Ann", "Bea", "Cy"):
        ClientFactory(first_name=name, last_name="A", sms_marketing=True)
    ClientFactory(first_name="Dee", last_name="Z")  # no consent: not counted in the cost
    long_body = "Hi {{ first_name }}! " + "Winter timetable starts on Monday. " * 5  # 2 segments, GSM-7
    campaign = make(Campaign.Kind.SMS, manager, body=long_body)
    page = manager_client.get(reverse("admin:campaigns_campaign_change", args=[campaign.pk])).content.decode()
    assert "Reply STOP to opt out" in page
    assert "3 recipients × 2 segments × 0.04 GBP = <strong>0.24 GBP</strong>" in page
    assert "0 of 500 sent this month" in page
    figures = selectors.sms_figures(recipients=3, body="Café ☕ " + "x" * 70)  # UCS-2: 67 a segment
    assert (figures.encoding, figures.segments, figures.cost) == ("UCS-2", 2, Decimal("0.24"))
