import pytest

from campaigns.models import Campaign, Segment
from tests.factories import ClientFactory


@pytest.fixture
def make_campaign(manager):
    """A draft campaign to a fresh segment; ``segment`` conditions as keyword arguments."""

    def make(*, user=None, subject="News for {{ first_name }}", body="Hi {{ first_name }}!", **conditions):
        user = user or manager
        segment = Segment.objects.create(name="segment", owner=user, **conditions)
        return Campaign.objects.create(
            name="Spring offer", subject=subject, body=body, segment=segment, created_by=user
        )

    return make


@pytest.fixture
def consenting_client():
    def make(**kwargs):
        kwargs.setdefault("email_marketing", True)
        return ClientFactory(**kwargs)

    return make


@pytest.fixture
def anymail_backend(settings):
    """anymail's test backend: messages get a provider id, as with a real ESP."""
    settings.EMAIL_BACKEND = "anymail.backends.test.EmailBackend"
