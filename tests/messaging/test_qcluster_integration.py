"""A real ``qcluster`` process (ORM broker) delivers what ``send_message`` queued."""

import pytest

from messaging.models import Message
from messaging.services import send_message
from tests.factories import ClientFactory, TrainerFactory
from tests.support.qcluster import QCluster, wait_until


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_a_real_qcluster_delivers_queued_messages(tmp_path):
    trainer = TrainerFactory()
    clients = [ClientFactory(trainer=trainer) for _ in range(5)]
    # Each send commits on its own, so each kicks the worker through the broker.
    messages = [
        send_message(client=c, channel=channel, subject="Hello", body="See you tomorrow")
        for c in clients
        for channel in ("email", "sms", "in_app")
    ]

    worker = QCluster("worker", tmp_path / "worker.log", Q_BROKER="orm").start()
    pending = Message.objects.filter(pk__in=[m.pk for m in messages]).exclude(
        status__in=[Message.Status.SENT, Message.Status.DELIVERED]
    )
    try:
        wait_until(lambda: not pending.exists(), timeout=30, every=0.25, clusters=(worker,))
    finally:
        worker.stop()

    by_status = dict.fromkeys(["email", "sms", "in_app"])
    for channel in by_status:
        by_status[channel] = set(Message.objects.filter(channel=channel).values_list("status", flat=True))
    assert by_status == {"email": {"sent"}, "sms": {"sent"}, "in_app": {"delivered"}}
