"""Planning a campaign runs under the cluster's task timeout, the one the system checks order."""

import pytest
from django_q.signals import pre_enqueue

from campaigns import services

pytestmark = pytest.mark.django_db


def test_the_plan_task_gets_the_cluster_timeout_not_one_of_its_own(
    make_campaign, django_capture_on_commit_callbacks
):
    tasks = []

    def record(sender, task, **kwargs):
        tasks.append(task)

    pre_enqueue.connect(record, dispatch_uid="test-plan-timeout")
    try:
        campaign = make_campaign()
        with django_capture_on_commit_callbacks(execute=True):
            services.campaign_send_now(campaign=campaign, user=campaign.created_by)
    finally:
        pre_enqueue.disconnect(dispatch_uid="test-plan-timeout")

    plans = [task for task in tasks if task["func"] == "campaigns.tasks.plan_campaign"]
    assert len(plans) == 1
    # Without a "timeout" key the worker applies Q_CLUSTER["timeout"] (Q_TIMEOUT_SECONDS).
    assert "timeout" not in plans[0]
