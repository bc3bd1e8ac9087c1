from zoneinfo import ZoneInfo

import pytest

from automation.models import AutomationRule, TriggerEvent
from clients.models import Channel

UTC = ZoneInfo("UTC")
LONDON = ZoneInfo("Europe/London")


@pytest.fixture
def make_rule(db):
    def make(event=TriggerEvent.SESSION_SCHEDULED, **fields):
        defaults = {
            "name": f"{event} rule",
            "trigger_event": event,
            "channel": Channel.SMS,
            "body_template": "Hi {{ first_name }}",
            "offset_hours": 24 if event == TriggerEvent.SESSION_SCHEDULED else 0,
        }
        rule = AutomationRule.objects.create(**(defaults | fields))
        if "created_at" in fields:
            AutomationRule.objects.filter(pk=rule.pk).update(created_at=fields["created_at"])
            rule.refresh_from_db()
        return rule

    return make
