"""One clock: a trainer in New York, a client in Madrid, the studio in London, across DST changes.

Every page and message shows the same instant: staff pages in the viewer's zone
with the client's clock beside it, client-facing text in the client's zone, named
when it differs from the studio's.
"""

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.urls import reverse

from automation.models import AutomationRule, TriggerEvent
from clients.models import Channel
from clients.services import staff_set_timezone
from messaging.models import Message
from messaging.portal.tokens import make_portal_token
from scheduling.models import Session
from tests.factories import ClientFactory, SessionFactory

pytestmark = pytest.mark.django_db
NEW_YORK = ZoneInfo("America/New_York")

# (day, what each clock reads when the trainer books 06:00 New York time)
# 23 Mar 2027: New York is already on summer time (14 Mar), Europe not yet (28 Mar).
# 2 Nov 2027: Europe is back on winter time (31 Oct), New York not yet (7 Nov).
CASES = [
    ("2027-03-23", datetime(2027, 3, 23, 10, 0, tzinfo=UTC), "Tue 23 Mar 2027 06:00 EDT", "11:00 CET"),
    ("2027-11-02", datetime(2027, 11, 2, 10, 0, tzinfo=UTC), "Tue 02 Nov 2027 06:00 EDT", "11:00 CET"),
    # Outside the gaps: New York 5 h behind London, Madrid 1 h ahead.
    ("2027-01-12", datetime(2027, 1, 12, 11, 0, tzinfo=UTC), "Tue 12 Jan 2027 06:00 EST", "12:00 CET"),
    ("2027-07-13", datetime(2027, 7, 13, 10, 0, tzinfo=UTC), "Tue 13 Jul 2027 06:00 EDT", "12:00 CEST"),
]


@pytest.fixture
def world(settings, trainer):
    settings.STUDIO_TIME_ZONE = "Europe/London"
    settings.TIME_ZONE = "Europe/London"
    staff_set_timezone(user=trainer, timezone_name="America/New_York")
    client = ClientFactory(trainer=trainer, first_name="Lucía", last_name="Ortega", timezone="Europe/Madrid")
    return client


@pytest.mark.parametrize("day, instant, staff_text, client_text", CASES)
def test_every_page_and_message_shows_the_same_instant(
    trainer_client,
    trainer,
    world,
    q_sync,
    django_capture_on_commit_callbacks,
    day,
    instant,
    staff_text,
    client_text,
):
    client = world
    AutomationRule.objects.create(
        name="Booked",
        trigger_event=TriggerEvent.SESSION_CREATED,
        channel=Channel.IN_APP,
        body_template="Booked: {{ session_date }} at {{ session_time }}",
    )
    madrid = client_text.split()[0]
    both = f"{staff_text} (Madrid {madrid})"
    with time_machine.travel(datetime(2026, 12, 1, 12, tzinfo=UTC), tick=False):
        # Booked through the admin by the trainer, who types her own wall clock.
        with django_capture_on_commit_callbacks(execute=True):
            response = trainer_client.post(
                reverse("admin:scheduling_session_add"),
                {
                    "client": client.pk,
                    "trainer": trainer.pk,
                    "starts_at_0": day,
                    "starts_at_1": "06:00",
                    "duration_minutes": "60",
                    "location": "Studio A",
                    "status": "scheduled",
                    "notes": "",
                },
                follow=True,
            )
        session = Session.objects.get()
        assert session.starts_at == instant

        [success] = [str(m) for m in response.context["messages"]]
        assert f"Lucía Ortega — {both}" in success

        changelist = trainer_client.get(reverse("admin:scheduling_session_changelist")).content.decode()
        assert both in changelist

        change = trainer_client.get(reverse("admin:scheduling_session_change", args=[session.pk]))
        html = change.content.decode()
        assert 'value="06:00:00"' in html
        assert f"<h2>Lucía Ortega — {both}</h2>" in html
        assert f"› Lucía Ortega — {both}" in " ".join(html.replace("&rsaquo;", "›").split())
        assert f"{client_text} (Europe/Madrid)" in html

        # A clash names the same moment.
        clash = trainer_client.post(
            reverse("admin:scheduling_session_add"),
            {
                "client": ClientFactory(trainer=trainer).pk,
                "trainer": trainer.pk,
                "starts_at_0": day,
                "starts_at_1": "06:30",
                "duration_minutes": "60",
                "status": "scheduled",
            },
        )
        [error] = clash.context["adminform"].form.non_field_errors()
        assert f"Lucía Ortega on {staff_text[:-4]}–07:00 {staff_text[-3:]} (Madrid {madrid}" in error

        # The client's message and portal: her own clock, named.
        message = Message.objects.get(session=session)
        assert message.body.endswith(f"at {client_text}")
        portal = trainer_client.get(reverse("portal:home", args=[make_portal_token(client)])).content.decode()
        assert f", {client_text}</strong>" in portal

        # The inbox thread and the message admin show both clocks.
        thread = trainer_client.get(reverse("inbox:thread", args=[client.pk])).content.decode()
        assert "(Madrid " in thread
        message_admin = trainer_client.get(reverse("admin:messaging_message_changelist")).content.decode()
        assert "Tue 01 Dec 2026 07:00 EST (Madrid 13:00)" in message_admin
        # Django's own date-time fields: the same 24-hour clock, not "7 a.m.".
        message_page = trainer_client.get(reverse("admin:messaging_message_change", args=[message.pk]))
        assert "Tue 01 Dec 2026 07:00</div>" in message_page.content.decode()


@pytest.mark.parametrize(
    "first_day, first, second, third",
    [
        # Europe changes clocks between weeks one and two, New York does not.
        (
            "2027-03-23",
            "Tue 23 Mar 2027 06:00 EDT (Madrid 11:00)",
            "Tue 30 Mar 2027 06:00 EDT (Madrid 12:00)",
            datetime(2027, 4, 6, 10, 0, tzinfo=UTC),
        ),
        # New York changes clocks between weeks one and two, Europe does not.
        (
            "2027-11-02",
            "Tue 02 Nov 2027 06:00 EDT (Madrid 11:00)",
            "Tue 09 Nov 2027 06:00 EST (Madrid 12:00)",
            datetime(2027, 11, 16, 11, 0, tzinfo=UTC),
        ),
    ],
)
def test_the_series_page_and_its_clashes_use_the_same_clock(
    trainer_client, trainer, world, first_day, first, second, third
):
    client = world
    # Week three is taken by another of her sessions.
    SessionFactory(client=ClientFactory(trainer=trainer, first_name="Ben", last_name="Hale"), starts_at=third)
    with time_machine.travel(datetime(2026, 12, 1, 12, tzinfo=UTC), tick=False):
        response = trainer_client.post(
            reverse("admin:scheduling_session_book_series"),
            {
                "client": client.pk,
                "trainer": trainer.pk,
                "first_starts_at_0": first_day,
                "first_starts_at_1": "06:00",
                "occurrences": "3",
                "duration_minutes": "60",
                "location": "",
            },
        )
    body = response.content.decode()
    assert response.context["form"].errors == {}
    assert f"Lucía Ortega — {first}" in body
    assert f"Lucía Ortega — {second}" in body
    third_text = f"{third.astimezone(NEW_YORK):%a %d %b %Y} 06:00 E"
    assert f"<li>{third_text}" in body
    assert f"Ben Hale on {third_text[:-2]}–07:00" in body
    # Every week keeps the trainer's 06:00.
    assert {
        s.starts_at.astimezone(NEW_YORK).strftime("%H:%M") for s in Session.objects.filter(client=client)
    } == {"06:00"}


def test_the_client_page_lists_her_sessions_on_both_clocks(trainer_client, trainer, world):
    SessionFactory(client=world, starts_at=datetime(2027, 3, 23, 10, 0, tzinfo=UTC))
    page = trainer_client.get(reverse("admin:clients_client_change", args=[world.pk])).content.decode()
    assert "Tue 23 Mar 2027 06:00 EDT (Madrid 11:00)" in page
    assert "10:00 UTC" not in page
