import pytest
from django.core import mail

from messaging.delivery import deliver_due
from messaging.models import Message
from messaging.services import Attachment, Outgoing, send_message, send_messages


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


ROW = [
    "client_id",
    "channel",
    "category",
    "subject",
    "body",
    "status",
    "to_address",
    "attachments",
    "not_after",
]


@pytest.mark.django_db
def test_send_messages_writes_send_messages_rows_with_one_insert_and_one_kick(
    client_obj, django_capture_on_commit_callbacks, django_assert_num_queries
):
    kwargs = [
        {"channel": "sms", "body": "See you at 9 \u2013 \u201cStudio A\u201d", "subject": "ignored by SMS"},
        {
            "channel": "email",
            "body": "Hello",
            "subject": "Your session",
            "category": "marketing",
            "attachments": (
                Attachment(filename="session.ics", content="BEGIN:VCALENDAR", content_type="text/calendar"),
            ),
        },
    ]
    with django_capture_on_commit_callbacks() as kicks, django_assert_num_queries(1):
        bulk = send_messages([Outgoing(client=client_obj, **kw) for kw in kwargs])
    singles = [send_message(client=client_obj, **kw) for kw in kwargs]

    assert [m.pk is not None for m in bulk] == [True, True]
    fields = list(Message.objects.filter(pk__in=[m.pk for m in bulk]).order_by("pk").values(*ROW))
    assert fields == list(Message.objects.filter(pk__in=[m.pk for m in singles]).order_by("pk").values(*ROW))
    assert len(kicks) == 1  # one delivery kick for the transaction, as send_message
    with pytest.raises(TypeError):
        send_messages([Outgoing(client=client_obj, channel="sms", body="x", caused_by={"campain": None})])
