from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest
import time_machine
from django.urls import resolve, reverse
from django.utils import timezone

from clients.models import Channel
from messaging.activity import record_client_activity
from messaging.models import ClientActivity, Message
from messaging.portal.tokens import client_from_token
from messaging.sms_text import sms_count
from messaging.webhooks import twilio_inbound_received
from tests.factories import ClientFactory, SessionFactory

pytestmark = pytest.mark.django_db

Status = Message.Status
Direction = Message.Direction


@pytest.fixture(autouse=True)
def _daytime():
    """Compose asks before texting inside the client's quiet hours (tested on its own):
    the other tests run at midday, whenever the suite runs."""
    with time_machine.travel(datetime(2026, 3, 10, 12, 0, tzinfo=UTC), tick=True):
        yield


def message(client, **fields):
    fields.setdefault("channel", Channel.IN_APP)
    fields.setdefault("body", "Hello")
    return Message.objects.create(client=client, **fields)


def inbound(client, body="Hi coach", channel=Channel.SMS):
    return message(client, channel=channel, body=body, direction=Direction.INBOUND, status=Status.RECEIVED)


def html(response):
    return response.content.decode()


# --- Scoping ---------------------------------------------------------------------------


def test_trainer_cannot_open_another_trainers_client_thread_by_url(trainer_client, other_trainer):
    foreign = ClientFactory(trainer=other_trainer, first_name="Zelda")
    inbound(foreign, body="secret plans")

    assert trainer_client.get(reverse("inbox:thread", args=[foreign.pk])).status_code == 404
    response = trainer_client.post(
        reverse("inbox:send", args=[foreign.pk]), {"channel": "in_app", "body": "x"}
    )
    assert response.status_code == 404
    assert trainer_client.post(reverse("inbox:mark_read", args=[foreign.pk])).status_code == 404
    assert Message.objects.filter(client=foreign).count() == 1
    assert Message.objects.get(client=foreign).read_at is None

    listing = html(trainer_client.get(reverse("inbox:list")))
    assert "Zelda" not in listing and "secret plans" not in listing


def test_manager_sees_every_trainers_conversations_and_can_filter_by_trainer(
    manager_client, trainer, other_trainer
):
    mine = ClientFactory(trainer=trainer, first_name="Alice")
    theirs = ClientFactory(trainer=other_trainer, first_name="Bruno")
    inbound(mine)
    inbound(theirs)

    listing = html(manager_client.get(reverse("inbox:list")))
    assert "Alice" in listing and "Bruno" in listing

    filtered = html(manager_client.get(reverse("inbox:list"), {"trainer": other_trainer.pk}))
    assert "Bruno" in filtered and "Alice" not in filtered
    assert manager_client.get(reverse("inbox:thread", args=[theirs.pk])).status_code == 200


def test_trainer_filter_is_ignored_for_trainers(trainer_client, trainer, other_trainer):
    inbound(ClientFactory(trainer=trainer, first_name="Alice"))
    inbound(ClientFactory(trainer=other_trainer, first_name="Bruno"))
    listing = html(trainer_client.get(reverse("inbox:list"), {"trainer": other_trainer.pk}))
    assert "Alice" in listing and "Bruno" not in listing


def test_inbox_needs_a_staff_login(client):
    response = client.get(reverse("inbox:list"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


# --- Thread ----------------------------------------------------------------------------


def test_thread_shows_every_channel_in_time_order_with_statuses_and_reasons(trainer_client, client_obj):
    start = timezone.now() - timedelta(hours=5)
    with time_machine.travel(start, tick=False) as traveller:
        message(
            client_obj, channel=Channel.EMAIL, subject="Welcome", body="first-email", status=Status.DELIVERED
        )
        traveller.shift(timedelta(minutes=10))
        message(
            client_obj,
            channel=Channel.SMS,
            body="second-sms",
            status=Status.FAILED,
            error="invalid phone number",
        )
        traveller.shift(timedelta(minutes=10))
        inbound(client_obj, body="third-inbound-sms")
        traveller.shift(timedelta(minutes=10))
        message(
            client_obj,
            channel=Channel.SMS,
            body="fourth-sms",
            status=Status.SUPPRESSED,
            error="opted out of SMS (STOP)",
        )
        traveller.shift(timedelta(minutes=10))
        inbound(client_obj, channel=Channel.IN_APP, body="fifth-in-app")
        traveller.shift(timedelta(minutes=10))
        message(client_obj, channel=Channel.IN_APP, body="sixth-in-app", status=Status.QUEUED)

    page = html(trainer_client.get(reverse("inbox:thread", args=[client_obj.pk])))

    positions = [
        page.index(body)
        for body in (
            "first-email",
            "second-sms",
            "third-inbound-sms",
            "fourth-sms",
            "fifth-in-app",
            "sixth-in-app",
        )
    ]
    assert positions == sorted(positions)
    assert "Delivered" in page
    assert "Failed: invalid phone number" in page
    assert "Not sent: opted out of SMS (STOP)" in page
    assert "Queued" in page


def test_inbound_sms_from_the_webhook_appears_in_the_thread(trainer_client, client_obj):
    twilio_inbound_received(
        params={
            "From": str(client_obj.phone),
            "To": "+15005550006",
            "Body": "Running 5 min late",
            "MessageSid": "SM1",
        }
    )

    page = html(trainer_client.get(reverse("inbox:thread", args=[client_obj.pk])))
    assert "Running 5 min late" in page
    listing = html(trainer_client.get(reverse("inbox:list")))
    assert "Running 5 min late" in listing


# --- Compose ---------------------------------------------------------------------------


def test_compose_sends_through_send_message_and_records_the_sender(trainer_client, trainer, client_obj):
    inbound(client_obj, channel=Channel.IN_APP)
    response = trainer_client.post(
        reverse("inbox:send", args=[client_obj.pk]), {"channel": "in_app", "body": "See you Tuesday"}
    )

    assert response.status_code == 302
    sent = Message.objects.get(client=client_obj, direction=Direction.OUTBOUND)
    assert (sent.channel, sent.body, sent.sent_by, sent.category) == (
        "in_app",
        "See you Tuesday",
        trainer,
        "transactional",
    )
    # Answering the client reads what they wrote.
    assert not Message.objects.filter(
        client=client_obj, direction=Direction.INBOUND, read_at__isnull=True
    ).exists()


def test_compose_refuses_a_channel_the_client_cannot_receive(trainer_client, client_obj):
    client_obj.sms_opted_out_at = timezone.now()
    client_obj.save()

    response = trainer_client.post(
        reverse("inbox:send", args=[client_obj.pk]), {"channel": "sms", "body": "Hi"}
    )

    assert response.status_code == 400
    assert "cannot receive SMS: opted out of SMS (STOP)" in html(response)
    assert not Message.objects.filter(client=client_obj).exists()


def test_compose_shows_unreachable_channels_disabled_with_the_reason(trainer_client, trainer):
    client = ClientFactory(trainer=trainer, email="")
    page = html(trainer_client.get(reverse("inbox:thread", args=[client.pk])))
    email_radio = page[page.index('value="email"') - 120 : page.index('value="email"') + 120]
    assert "disabled" in email_radio
    assert "Email — not available: no email address" in page
    sms_radio = page[page.index('value="sms"') - 120 : page.index('value="sms"') + 60]
    assert "disabled" not in sms_radio


def test_compose_shows_sms_segments_and_warns_about_non_gsm_characters(trainer_client, client_obj):
    response = trainer_client.post(reverse("inbox:sms_count"), {"body": "Great work today 💪"})
    assert "1 segment" in html(response)
    assert "Not GSM-7" in html(response) and "💪" in html(response)

    response = trainer_client.post(reverse("inbox:sms_count"), {"body": "a" * 161})
    assert "2 segments" in html(response)
    assert "Not GSM-7" not in html(response)


def test_a_failed_compose_keeps_the_text_and_its_sms_count(trainer_client, client_obj):
    response = trainer_client.post(
        reverse("inbox:send", args=[client_obj.pk]), {"channel": "carrier-pigeon", "body": "ł" * 71}
    )
    assert response.status_code == 400
    assert "ł" * 71 in html(response)
    assert "2 segments" in html(response)


def test_sending_with_htmx_returns_the_refreshed_conversation(trainer_client, client_obj):
    response = trainer_client.post(
        reverse("inbox:send", args=[client_obj.pk]),
        {"channel": "in_app", "body": "Quick one"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    page = html(response)
    assert page.lstrip().startswith('<div id="conversation">')
    assert "Quick one" in page


@pytest.mark.parametrize(
    ("text", "encoding", "segments", "non_gsm"),
    [
        ("", "GSM-7", 0, ()),
        ("a" * 160, "GSM-7", 1, ()),
        ("a" * 161, "GSM-7", 2, ()),
        ("€" * 80, "GSM-7", 1, ()),  # extension characters count twice
        ("It’s on — see you", "GSM-7", 1, ()),  # typographic look-alikes are swapped before sending
        ("Ça va? 😀", "UCS-2", 1, ("😀",)),
        ("ł" * 71, "UCS-2", 2, ("ł",)),
    ],
)
def test_sms_count(text, encoding, segments, non_gsm):
    count = sms_count(text)
    assert (count.encoding, count.segments, count.non_gsm) == (encoding, segments, non_gsm)


# --- Unread ----------------------------------------------------------------------------


def test_unread_counts_per_conversation_and_in_the_admin_header(trainer_client, trainer, other_trainer):
    alice = ClientFactory(trainer=trainer, first_name="Alice")
    inbound(alice)
    inbound(alice)
    message(alice, status=Status.SENT)  # our own messages are never "unread"
    inbound(ClientFactory(trainer=other_trainer))  # not this trainer's

    listing = html(trainer_client.get(reverse("inbox:list")))
    assert '<span class="inbox-badge">2</span>' in listing

    admin = html(trainer_client.get(reverse("admin:index")))
    assert 'title="2 unread messages">2</span>' in admin

    trainer_client.post(reverse("inbox:mark_read", args=[alice.pk]))
    admin = html(trainer_client.get(reverse("admin:index")))
    assert '<span class="inbox-badge"' not in admin
    assert 'href="/inbox/"' in admin


def test_opening_a_thread_does_not_mark_it_read_but_the_button_does(trainer_client, client_obj):
    msg = inbound(client_obj)
    trainer_client.get(reverse("inbox:thread", args=[client_obj.pk]))
    msg.refresh_from_db()
    assert msg.read_at is None

    trainer_client.post(reverse("inbox:mark_read", args=[client_obj.pk]))
    msg.refresh_from_db()
    assert msg.read_at is not None
    assert msg.status == Status.RECEIVED


def test_filters_unread_and_needs_reply(trainer_client, trainer):
    waiting = ClientFactory(trainer=trainer, first_name="Waiting")
    inbound(waiting)
    answered = ClientFactory(trainer=trainer, first_name="Answered")
    with time_machine.travel(timezone.now() - timedelta(hours=1), tick=False):
        inbound(answered).__class__.objects.filter(client=answered).update(read_at=timezone.now())
    message(answered, status=Status.SENT)
    quiet = ClientFactory(trainer=trainer, first_name="Quiet")
    message(quiet, status=Status.DELIVERED)
    read_but_unanswered = ClientFactory(trainer=trainer, first_name="Seen")
    Message.objects.filter(pk=inbound(read_but_unanswered).pk).update(read_at=timezone.now())

    def names(**params):
        page = html(trainer_client.get(reverse("inbox:list"), params))
        return {n for n in ("Waiting", "Answered", "Quiet", "Seen") if n in page}

    assert names() == {"Waiting", "Answered", "Quiet", "Seen"}
    assert names(unread="1") == {"Waiting"}
    assert names(needs_reply="1") == {"Waiting", "Seen"}


def test_conversations_are_newest_first_and_paginated(trainer_client, trainer):
    start = timezone.now() - timedelta(days=1)
    with time_machine.travel(start, tick=False) as traveller:
        for n in range(30):
            traveller.shift(timedelta(minutes=1))
            inbound(ClientFactory(trainer=trainer, first_name=f"Client{n:02d}"))

    first = html(trainer_client.get(reverse("inbox:list")))
    assert first.index("Client29") < first.index("Client28")
    assert "Client04" not in first
    second = html(trainer_client.get(reverse("inbox:list"), {"page": 2}))
    assert "Client04" in second and "Client29" not in second


@pytest.mark.parametrize("conversations", [5, 50])
def test_conversation_list_query_count_does_not_grow_with_conversations(
    trainer_client, trainer, conversations, django_assert_max_num_queries
):
    for _ in range(conversations):
        client = ClientFactory(trainer=trainer)
        inbound(client)
        message(client, channel=Channel.EMAIL, status=Status.DELIVERED)

    # session, user, the user's permissions and their groups' permissions,
    # manager check (groups), paginator count, the page of conversations,
    # their latest messages, their latest client activities, the unread badge
    # in the header (unread messages, unread activities).
    with django_assert_max_num_queries(11):
        response = trainer_client.get(reverse("inbox:list"))
    assert response.status_code == 200


def test_new_message_finds_only_the_users_own_clients(trainer_client, trainer, other_trainer):
    ClientFactory(trainer=trainer, first_name="Anna", last_name="Mine")
    ClientFactory(trainer=other_trainer, first_name="Anna", last_name="Theirs")
    page = html(trainer_client.get(reverse("inbox:start"), {"q": "anna"}))
    assert "Anna Mine" in page and "Anna Theirs" not in page


def test_a_long_thread_shows_the_newest_messages_and_offers_the_older_ones(
    trainer_client, client_obj, monkeypatch
):
    from messaging.inbox import views

    monkeypatch.setattr(views, "THREAD_LATEST", 3)
    with time_machine.travel(timezone.now() - timedelta(hours=1), tick=False) as traveller:
        for n in range(5):
            traveller.shift(timedelta(minutes=1))
            message(client_obj, body=f"number-{n}", status=Status.DELIVERED)

    page = html(trainer_client.get(reverse("inbox:thread", args=[client_obj.pk])))
    assert "number-1" not in page and "number-2" in page and "number-4" in page
    assert page.index("number-2") < page.index("number-4")
    assert "Show older messages" in page

    page = html(trainer_client.get(reverse("inbox:thread", args=[client_obj.pk]), {"all": "1"}))
    assert "number-0" in page and "Show older messages" not in page


@pytest.mark.parametrize("messages", [5, 50])
def test_thread_query_count_does_not_grow_with_messages(
    trainer_client, trainer, client_obj, messages, django_assert_max_num_queries
):
    for n in range(messages):
        message(client_obj, body=f"m{n}", status=Status.DELIVERED, sent_by=trainer)
        inbound(client_obj)
        record_client_activity(
            client=client_obj, kind=ClientActivity.Kind.CANCELLED, session=SessionFactory(client=client_obj)
        )

    # session, user, the user's and their groups' permissions, manager check,
    # the client with their trainer, the messages with their senders, the
    # client's activities with their sessions, the thread's unread count
    # (messages, activities), the unread badge in the header (the same two), the
    # saved replies with their owners.
    with django_assert_max_num_queries(13):
        response = trainer_client.get(reverse("inbox:thread", args=[client_obj.pk]))
    assert response.status_code == 200


def test_compose_can_add_the_clients_portal_link(trainer_client, client_obj, settings):
    settings.SITE_URL = "https://crm.example.com"
    trainer_client.post(
        reverse("inbox:send", args=[client_obj.pk]),
        {"channel": "sms", "body": "Your plan is ready.", "add_portal_link": "on"},
    )
    body = Message.objects.get(client=client_obj).body
    text, link = body.split("\n\n")
    assert text == "Your plan is ready."
    assert link.startswith("https://crm.example.com/portal/")
    assert client_from_token(resolve(urlsplit(link).path).kwargs["token"]) == client_obj


def test_an_htmx_send_with_errors_still_shows_them(trainer_client, client_obj):
    client_obj.sms_opted_out_at = timezone.now()
    client_obj.save()
    response = trainer_client.post(
        reverse("inbox:send", args=[client_obj.pk]), {"channel": "sms", "body": "Hi"}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    assert "cannot receive SMS" in html(response)
    assert not Message.objects.exists()
