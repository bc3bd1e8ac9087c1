"""The roles, as the migration and post_migrate sync give them, open the campaigns admin."""

import pytest


@pytest.mark.parametrize(
    "url", ["/admin/campaigns/campaign/", "/admin/campaigns/segment/", "/admin/campaigns/segment/add/"]
)
def test_trainer_role_can_use_campaigns_admin(trainer_client, url):
    assert trainer_client.get(url).status_code == 200


@pytest.mark.parametrize("url", ["/admin/campaigns/campaign/", "/admin/campaigns/segment/"])
def test_studio_manager_role_can_use_campaigns_admin(manager_client, url):
    assert manager_client.get(url).status_code == 200


def test_trainer_sees_message_history(trainer):
    assert trainer.has_perm("messaging.view_messageevent")
