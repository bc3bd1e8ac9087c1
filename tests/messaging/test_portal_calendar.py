"""The portal's "add to calendar": the session's own event, through the portal token only."""

from datetime import timedelta

import pytest
from django.utils import timezone
from icalendar import Calendar

from clients.services import client_rotate_portal_secret
from messaging.portal.tokens import make_portal_token
from scheduling import ics
from scheduling import services as scheduling
from tests.factories import ClientFactory, SessionFactory

pytestmark = pytest.mark.django_db


def test_add_to_calendar_downloads_the_sessions_event(client):
    session = SessionFactory(
        starts_at=(timezone.now() + timedelta(days=3)).replace(microsecond=0), location="Room Blue"
    )
    scheduling.session_update(session=session, starts_at=session.starts_at + timedelta(hours=2))
    token = make_portal_token(session.client)
    home = client.get(f"/portal/{token}/").content.decode()
    url = f"/portal/{token}/sessions/{session.pk}/calendar.ics"
    assert url in home

    response = client.get(url)
    assert response.status_code == 200
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    assert response["Content-Disposition"] == f'attachment; filename="session-{session.pk}.ics"'
    calendar = Calendar.from_ical(response.content)
    (event,) = calendar.walk("VEVENT")
    assert str(calendar["METHOD"]) == "PUBLISH"
    assert (str(event["UID"]), int(event["SEQUENCE"])) == (ics.session_uid(session.pk), 1)
    assert event.decoded("DTSTART") == session.starts_at
    assert str(event["LOCATION"]) == "Room Blue"


def test_another_clients_session_or_a_revoked_link_gives_nothing(client):
    session = SessionFactory(starts_at=timezone.now() + timedelta(days=3))
    stranger = ClientFactory()
    token = make_portal_token(stranger)
    assert b"BEGIN:VCALENDAR" not in client.get(f"/portal/{token}/sessions/{session.pk}/calendar.ics").content
    own = make_portal_token(session.client)
    client_rotate_portal_secret(client=session.client)
    response = client.get(f"/portal/{own}/sessions/{session.pk}/calendar.ics")
    assert response.status_code == 404 and b"BEGIN:VCALENDAR" not in response.content
