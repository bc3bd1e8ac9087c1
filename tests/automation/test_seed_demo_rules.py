"""seed_demo gives `make run` working example rules, once."""

from io import StringIO

import pytest
from django.core.management import call_command

from automation.demo import DEMO_RULES
from automation.models import AutomationRule
from messaging.models import Message

pytestmark = pytest.mark.django_db


def test_seed_demo_creates_the_example_rules_once_and_sends_no_booking_flood(settings):
    settings.DEBUG = True
    call_command("seed_demo", stdout=StringIO())
    out = StringIO()
    call_command("seed_demo", stdout=out)

    assert AutomationRule.objects.count() == len(DEMO_RULES)
    assert "0 automation rules" in out.getvalue()
    # Rules are created after the demo bookings: seeding queues no confirmations.
    assert not Message.objects.filter(rule__isnull=False).exists()
