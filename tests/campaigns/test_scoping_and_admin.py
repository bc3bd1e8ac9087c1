import datetime as dt

import pytest
from django.contrib.auth.models import Permission
from django.core.exceptions import PermissionDenied
from django.utils import timezone

from campaigns import services
from campaigns.models import Campaign, Segment
from messaging.models import Message
from tests.factories import ClientFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def campaign_perms(trainer, manager):
    # The roles' campaign permissions belong in clients.roles; until they are there,
    # give them to the users directly.
    perms = Permission.objects.filter(content_type__app_label="campaigns")
    trainer.user_permissions.add(*perms)
    manager.user_permissions.add(*perms)
    return trainer


def plan(campaign):
    now = timezone.now()
    Campaign.objects.filter(pk=campaign.pk).update(status="scheduled", scheduled_at=now)
    return services.campaign_plan(campaign_id=campaign.pk, now=now)


def recipients(campaign):
    return set(Message.objects.filter(campaign=campaign).values_list("client__first_name", flat=True))


def test_a_trainer_cannot_target_another_trainers_clients(make_campaign, trainer, other_trainer):
    ClientFactory(first_name="Mine", trainer=trainer, email_marketing=True)
    ClientFactory(first_name="Theirs", trainer=other_trainer, email_marketing=True)

    everyone = make_campaign(user=trainer)
    plan(everyone)
    assert recipients(everyone) == {"Mine"}

    # Naming the other trainer in the segment reaches nobody rather than their book.
    theirs = make_campaign(user=trainer, trainer=other_trainer)
    plan(theirs)
    assert recipients(theirs) == set()


def test_a_trainer_cannot_use_another_users_segment(make_campaign, trainer, manager):
    campaign = make_campaign(user=manager)
    campaign.created_by = trainer
    with pytest.raises(PermissionDenied):
        services.campaign_save(campaign=campaign, user=trainer)
    with pytest.raises(PermissionDenied):
        services.campaign_send_now(campaign=campaign, user=trainer)


def test_a_trainers_campaign_on_a_studio_segment_still_reaches_only_their_clients(
    make_campaign, trainer, other_trainer, manager
):
    ClientFactory(first_name="Mine", trainer=trainer, email_marketing=True)
    ClientFactory(first_name="Theirs", trainer=other_trainer, email_marketing=True)
    campaign = make_campaign(user=manager)
    Campaign.objects.filter(pk=campaign.pk).update(created_by=trainer)
    campaign.refresh_from_db()
    plan(campaign)
    assert recipients(campaign) == {"Mine"}


def test_a_manager_targets_everyone(make_campaign, trainer, other_trainer):
    ClientFactory(first_name="Mine", trainer=trainer, email_marketing=True)
    ClientFactory(first_name="Theirs", trainer=other_trainer, email_marketing=True)
    campaign = make_campaign()
    plan(campaign)
    assert recipients(campaign) == {"Mine", "Theirs"}


# --- Admin -------------------------------------------------------------------------


def test_segment_page_shows_count_and_sample(manager_client, manager):
    ClientFactory(first_name="Zoe", last_name="Adams", email_marketing=True)
    segment = Segment.objects.create(name="all", owner=manager)
    page = manager_client.get(f"/admin/campaigns/segment/{segment.pk}/change/").content.decode()
    assert "1</strong> client matches" in page
    assert "Zoe Adams" in page


def test_segment_page_says_when_nobody_matches(manager_client, manager):
    segment = Segment.objects.create(name="leads", owner=manager, status="lead")
    page = manager_client.get(f"/admin/campaigns/segment/{segment.pk}/change/").content.decode()
    assert "No client matches this segment" in page


def test_campaign_pages_render_with_preview_and_statistics(manager_client, make_campaign):
    ann = ClientFactory(first_name="Ann", last_name="Archer", email_marketing=True)
    ClientFactory(first_name="Bob", last_name="Baker", email_marketing=True)
    campaign = make_campaign()
    assert manager_client.get("/admin/campaigns/campaign/").status_code == 200
    assert manager_client.get("/admin/campaigns/campaign/add/").status_code == 200

    page = manager_client.get(f"/admin/campaigns/campaign/{campaign.pk}/change/").content.decode()
    assert "Preview for Ann Archer" in page
    assert "News for Ann" in page
    assert "2</strong> clients match" in page
    page = manager_client.get(
        f"/admin/campaigns/campaign/{campaign.pk}/change/?preview_client={ann.pk + 1}"
    ).content.decode()
    assert "News for Bob" in page

    plan(campaign)
    page = manager_client.get(f"/admin/campaigns/campaign/{campaign.pk}/change/").content.decode()
    assert "Statistics" in page
    assert "Recipients" in page


def test_admin_buttons_send_test_send_now_and_cancel(
    manager_client, make_campaign, q_sync, django_capture_on_commit_callbacks, settings
):
    from django.core import mail

    # The test send counts against the throttle too: one campaign email is left this minute.
    settings.MARKETING_EMAILS_PER_MINUTE = 2
    ClientFactory(first_name="Ann", email_marketing=True)
    ClientFactory(first_name="Bob", email_marketing=True)
    campaign = make_campaign()
    base = f"/admin/campaigns/campaign/{campaign.pk}"

    with django_capture_on_commit_callbacks(execute=True):
        assert manager_client.post(f"{base}/send-test/").status_code == 302
    assert [m.subject for m in mail.outbox] == ["[TEST] News for Ann"]

    with django_capture_on_commit_callbacks(execute=True):
        assert manager_client.post(f"{base}/send-now/").status_code == 302
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.SENDING
    assert len(mail.outbox) == 2

    response = manager_client.post(f"{base}/cancel/", follow=True)
    assert "1 message(s) not yet sent were cancelled" in response.content.decode()
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.CANCELLED
    assert manager_client.get(f"{base}/send-now/").status_code == 405


def test_schedule_button_uses_the_saved_time(manager_client, make_campaign):
    campaign = make_campaign()
    at = timezone.now() + dt.timedelta(days=1)
    Campaign.objects.filter(pk=campaign.pk).update(scheduled_at=at)
    manager_client.post(f"/admin/campaigns/campaign/{campaign.pk}/schedule/")
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.SCHEDULED
    assert campaign.scheduled_at == at


def test_a_trainer_sees_only_their_own_segments_and_campaigns(
    client, campaign_perms, other_trainer, make_campaign
):
    trainer = campaign_perms
    client.force_login(trainer)
    mine = make_campaign(user=trainer)
    theirs = make_campaign(user=other_trainer)

    assert client.get(f"/admin/campaigns/campaign/{mine.pk}/change/").status_code == 200
    assert client.get(f"/admin/campaigns/campaign/{theirs.pk}/change/").status_code in (302, 404)
    assert client.get(f"/admin/campaigns/segment/{theirs.segment.pk}/change/").status_code in (302, 404)
    assert client.post(f"/admin/campaigns/campaign/{theirs.pk}/send-now/").status_code == 404
    theirs.refresh_from_db()
    assert theirs.status == Campaign.Status.DRAFT

    form = client.get("/admin/campaigns/campaign/add/").context["adminform"].form
    assert list(form.fields["segment"].queryset) == [mine.segment]
