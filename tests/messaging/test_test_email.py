"""Test sends to staff: one way for campaigns and automation rules alike."""

import pytest
from django.core import mail
from django.core.exceptions import ValidationError

from messaging.delivery import deliver_due, deliver_test_email
from messaging.models import Message
from messaging.services import send_test_email

pytestmark = pytest.mark.django_db


def test_a_test_email_goes_to_the_staff_member_marked_without_a_client(
    manager, q_sync, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        message = send_test_email(user=manager, subject="Welcome", body="Hello there")

    [email] = mail.outbox
    assert (email.to, email.subject) == ([manager.email], "[TEST] Welcome")
    assert email.body.startswith("Hello there")
    message.refresh_from_db()
    assert message.client is None and message.campaign is None and message.rule is None
    assert message.status == Message.Status.SENT and message.sent_by == manager


def test_a_test_email_needs_the_staff_members_address(manager):
    manager.email = ""
    with pytest.raises(ValidationError):
        send_test_email(user=manager, subject="s", body="b")
    assert not Message.objects.exists()


def test_the_outbox_engine_leaves_a_test_email_to_its_task(manager, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        message = send_test_email(user=manager, subject="s", body="b")
    assert deliver_due() == 0
    assert deliver_test_email(message_id=message.pk) is True
    assert len(mail.outbox) == 1


def test_a_retried_task_does_not_send_the_test_twice(manager, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        message = send_test_email(user=manager, subject="s", body="b")
    assert deliver_test_email(message_id=message.pk) is True
    assert deliver_test_email(message_id=message.pk) is False
    assert len(mail.outbox) == 1
