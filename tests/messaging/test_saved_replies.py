"""Saved replies: a trainer's own and studio-wide ones, validated like rules, inserted in the compose box."""

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from messaging import saved_replies
from messaging.models import SavedReply
from tests.factories import ClientFactory

pytestmark = pytest.mark.django_db

ADD = reverse("admin:messaging_savedreply_add")


def test_a_trainers_saved_reply_is_hers_and_studio_ones_are_read_only(trainer, trainer_client, other_trainer):
    response = trainer_client.post(ADD, {"title": "Running late", "body": "Hi {{ first_name }}, 5 min late!"})
    assert response.status_code == 302
    mine = SavedReply.objects.get()
    assert mine.owner == trainer
    studio = SavedReply.objects.create(title="Opening hours", body="We open at 7.")
    theirs = SavedReply.objects.create(title="Theirs", body="x", owner=other_trainer)
    change = "admin:messaging_savedreply_change"
    assert (
        trainer_client.post(reverse(change, args=[studio.pk]), {"title": "Mine now", "body": "x"}).status_code
        == 403
    )
    assert trainer_client.get(reverse(change, args=[theirs.pk])).status_code in (302, 404)
    assert set(saved_replies.visible_replies(trainer)) == {mine, studio}


def test_a_manager_writes_studio_wide_replies(manager_client):
    manager_client.post(
        ADD, {"title": "Closed", "body": "Closed on the 25th, {{ first_name }}.", "owner": ""}
    )
    assert SavedReply.objects.get().owner is None


@pytest.mark.parametrize(
    "body, error",
    [
        ("{{ client.trainer.password }}", "not allowed"),
        ("{{ session_time }}", "session_time"),
        ("{% load static %}", "load"),
        ("{{ portal_link }}", "portal_link"),  # personal links never shown to staff
    ],
)
def test_saved_replies_are_validated_like_rules(trainer_client, body, error):
    page = trainer_client.post(ADD, {"title": "Bad", "body": body}).content.decode()
    assert error in page and not SavedReply.objects.exists()
    with pytest.raises(ValidationError):
        saved_replies.validate_body(body)


def test_the_compose_box_offers_the_replies_rendered_for_the_threads_client(
    trainer, trainer_client, other_trainer
):
    client = ClientFactory(trainer=trainer, first_name="Priya")
    SavedReply.objects.create(title="Late", body="Hi {{ first_name }}, I'm 5 min late.", owner=trainer)
    SavedReply.objects.create(title="Studio", body="{{ studio_name }} opens at 7, {{ first_name }}.")
    SavedReply.objects.create(title="Not mine", body="x", owner=other_trainer)
    page = trainer_client.get(reverse("inbox:thread", args=[client.pk])).content.decode()
    assert 'id="saved-reply"' in page
    assert "Hi Priya, I&#x27;m 5 min late." in page and "opens at 7, Priya." in page
    assert "Not mine" not in page
