"""Two planners at once on PostgreSQL: the database keeps one message per recipient."""

import threading
import time

import pytest
from django.db import connection, transaction
from django.utils import timezone

from campaigns import services
from campaigns.models import Campaign
from messaging.models import Message
from tests.factories import ClientFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

RECIPIENTS = 150


def run_in_threads(*targets):
    errors, results = [], [None] * len(targets)

    def wrap(i, target):
        try:
            results[i] = target()
        except Exception as exc:  # surfaced below, in the test's own thread
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=wrap, args=(i, t)) for i, t in enumerate(targets)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    return results


@pytest.fixture
def due_campaign(make_campaign):
    for _ in range(RECIPIENTS):
        ClientFactory(email_marketing=True)
    campaign = make_campaign()
    Campaign.objects.filter(pk=campaign.pk).update(status="scheduled", scheduled_at=timezone.now())
    campaign.refresh_from_db()
    return campaign


def test_two_planners_inserting_at_once_never_double_a_recipient(due_campaign):
    """Past any claim: the unique (campaign, client) constraint alone keeps one row each."""
    first_inserted = threading.Event()

    def first():
        with transaction.atomic():
            result = services.plan_recipients(campaign=due_campaign)
            first_inserted.set()
            # Hold the uncommitted rows while the second planner inserts the same ones.
            time.sleep(0.5)
        return result

    def second():
        assert first_inserted.wait(timeout=30)
        with transaction.atomic():
            return services.plan_recipients(campaign=due_campaign)

    a, b = run_in_threads(first, second)

    assert Message.objects.filter(campaign=due_campaign).count() == RECIPIENTS
    assert Message.objects.filter(campaign=due_campaign).values("client").distinct().count() == RECIPIENTS
    assert a.recipients == b.recipients == RECIPIENTS


def test_two_due_checks_at_once_plan_the_campaign_once(due_campaign):
    barrier = threading.Barrier(2)

    def check():
        barrier.wait(timeout=30)
        return services.campaign_plan(campaign_id=due_campaign.pk)

    results = run_in_threads(check, check)

    assert sorted(r is None for r in results) == [False, True]
    assert Message.objects.filter(campaign=due_campaign).count() == RECIPIENTS
    due_campaign.refresh_from_db()
    assert due_campaign.status == Campaign.Status.SENDING
    assert due_campaign.recipients_count == RECIPIENTS
