import pytest
from django.core import mail

from messaging.delivery import deliver_due
from messaging.models import Message
from messaging.services import send_message


@pytest.mark.django_db
def test_send_message_is_delivered_after_commit(
    client_obj, q_sync, django_capture_on_commit_callbacks, settings
):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    with django_capture_on_commit_callbacks(execute=True):
        message = send_message(client=client_obj, channel="email", subject="Hi", body="Hello")
    message.refresh_from_db()
    assert message.status == Message.Status.SENT
    assert len(mail.outbox) == 1
    assert deliver_due(limit=10) == 0
