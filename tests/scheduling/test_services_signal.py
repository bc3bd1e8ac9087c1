"""Scheduling tells the layers above about status changes, inside the change's transaction."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from scheduling import services
from scheduling.models import Session
from scheduling.signals import session_status_changed
from tests.factories import SessionFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def heard():
    calls = []

    def receiver(sender, *, session, old_status, new_status, **kwargs):
        calls.append((session.pk, old_status, new_status))

    session_status_changed.connect(receiver, dispatch_uid="test-heard")
    yield calls
    session_status_changed.disconnect(dispatch_uid="test-heard")


def test_each_status_change_is_told_once_with_the_status_before(heard):
    session = SessionFactory(starts_at=timezone.now() - timedelta(hours=2))

    services.session_mark_no_show(session=session)
    services.session_mark_completed(session=session)

    assert heard == [
        (session.pk, Session.Status.SCHEDULED, Session.Status.NO_SHOW),
        (session.pk, Session.Status.NO_SHOW, Session.Status.COMPLETED),
    ]


def test_a_refused_change_is_not_told(heard):
    session = SessionFactory(starts_at=timezone.now() + timedelta(days=1))
    services.session_cancel(session=session)

    with pytest.raises(ValidationError):
        services.session_mark_completed(session=session)

    assert heard == [(session.pk, Session.Status.SCHEDULED, Session.Status.CANCELLED)]
