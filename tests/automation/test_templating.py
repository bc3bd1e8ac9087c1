import pytest
from django.core.exceptions import ValidationError

from automation.forms import AutomationRuleForm
from automation.models import TriggerEvent
from automation.templating import validate_for_event
from messaging import templating
from tests.factories import ClientFactory, PaymentFactory, SessionFactory


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("{{ client.trainer.password }}", "'client.trainer.password' is not allowed"),
        ("{{ first_name.upper }}", "'first_name.upper' is not allowed"),
        ("{% load static %}", "{% load %} is not allowed"),
        ("{% debug %}", "{% debug %} is not allowed"),
        ("{% include 'admin/base.html' %}", "{% include %} is not allowed"),
        ("{% url 'admin:index' %}", "{% url %} is not allowed"),
        ("{{ first_name|date:'Y' }}", "The filter 'date' is not allowed"),
        ("{{ __class__ }}", "may not begin with underscores"),
        ("{% if secret %}x{% endif %}", "Unknown variable 'secret'"),
        ("{{ first_name|default:password }}", "Unknown variable 'password'"),
        ("Hi {{ first_name", "'{{' without a matching '}}'"),
    ],
)
def test_template_escapes_are_rejected_with_a_readable_reason(text, fragment):
    with pytest.raises(ValidationError) as exc:
        validate_for_event(text, TriggerEvent.SESSION_SCHEDULED)
    assert fragment in " ".join(exc.value.messages)


def test_unknown_variable_error_lists_the_valid_ones_for_the_event():
    with pytest.raises(ValidationError) as exc:
        validate_for_event("{{ amount }}", TriggerEvent.SESSION_SCHEDULED)
    message = exc.value.messages[0]
    assert "Unknown variable 'amount'" in message
    assert "session_time" in message and "confirm_link" in message


def test_payment_variables_are_valid_for_payment_events_only():
    validate_for_event("{{ amount }} due {{ due_date }}", TriggerEvent.PAYMENT_OVERDUE)
    with pytest.raises(ValidationError):
        validate_for_event("{{ amount }}", TriggerEvent.BIRTHDAY)


def test_render_uses_if_and_filters_and_does_not_escape_plain_text():
    text = "{{ first_name|upper }}{% if session_location %} at {{ session_location }}{% endif %} & co"
    template = validate_for_event(text, TriggerEvent.SESSION_CREATED)
    out = templating.render(template, {"first_name": "Zoë", "session_location": "Studio <A>"})
    assert out == "ZOË at Studio <A> & co"


@pytest.mark.django_db
def test_session_context_is_in_the_clients_time_zone(settings):
    client = ClientFactory(first_name="Ana", last_name="Lima", timezone="America/New_York")
    from datetime import datetime
    from zoneinfo import ZoneInfo

    session = SessionFactory(
        client=client, starts_at=datetime(2026, 12, 1, 14, 0, tzinfo=ZoneInfo("UTC")), location="Room 2"
    )
    context = templating.context_for(client=client, session=session)
    assert context["session_date"] == "Tuesday 1 December 2026"
    # Named, because New York's clock is not the studio's.
    assert context["session_time"] == "09:00 EST"
    assert context["session_duration"] == "60 minutes"
    assert context["full_name"] == "Ana Lima"
    assert context["confirm_link"].startswith(settings.SITE_URL)
    assert context["unsubscribe_link"].startswith(settings.SITE_URL)


@pytest.mark.django_db
def test_session_time_is_plain_when_the_client_shares_the_studios_clock(settings):
    from datetime import datetime
    from zoneinfo import ZoneInfo

    settings.STUDIO_TIME_ZONE = "Europe/London"
    session = SessionFactory(
        client=ClientFactory(timezone="Europe/Lisbon"),
        starts_at=datetime(2026, 12, 1, 9, 0, tzinfo=ZoneInfo("UTC")),
    )
    assert templating.context_for(client=session.client, session=session)["session_time"] == "09:00"


@pytest.mark.django_db
def test_payment_context_formats_amount_and_days_overdue(settings):
    from datetime import date, datetime
    from decimal import Decimal
    from zoneinfo import ZoneInfo

    settings.CURRENCY = "GBP"
    payment = PaymentFactory(amount=Decimal("1234.5"), due_date=date(2026, 11, 20))
    now = datetime(2026, 11, 25, 12, tzinfo=ZoneInfo("UTC"))
    context = templating.context_for(client=payment.client, payment=payment, now=now)
    assert context["amount"] == "£1,234.50"
    assert context["due_date"] == "Friday 20 November 2026"
    assert context["days_overdue"] == "5"


def test_context_only_builds_the_variables_asked_for():
    # No database: only plain attributes are touched.
    class FakeClient:
        first_name, last_name, full_name, timezone = "A", "B", "A B", ""
        tzinfo = None

    assert templating.context_for(client=FakeClient(), names={"first_name"}) == {"first_name": "A"}


@pytest.mark.django_db
def test_rule_form_rejects_escapes_at_save_naming_the_field(trainer):
    form = AutomationRuleForm(
        data={
            "name": "Reminder",
            "trigger_event": TriggerEvent.SESSION_SCHEDULED,
            "offset_hours": 24,
            "late_booking": "send_now",
            "channel": "email",
            "subject_template": "{% debug %}",
            "body_template": "Hello {{ client.trainer.password }}",
            "is_active": "on",
        }
    )
    assert not form.is_valid()
    assert "{% debug %} is not allowed" in form.errors["subject_template"][0]
    assert "'client.trainer.password' is not allowed" in form.errors["body_template"][0]


@pytest.mark.django_db
def test_rule_form_accepts_a_good_rule_and_checks_offsets():
    data = {
        "name": "Reminder",
        "trigger_event": TriggerEvent.SESSION_SCHEDULED,
        "offset_hours": 0,
        "late_booking": "send_now",
        "channel": "sms",
        "body_template": "See you {{ session_date }} at {{ session_time }}",
        "is_active": "on",
    }
    form = AutomationRuleForm(data=data)
    assert not form.is_valid() and "offset_hours" in form.errors
    form = AutomationRuleForm(data=data | {"offset_hours": 24})
    assert form.is_valid(), form.errors
    form = AutomationRuleForm(data=data | {"trigger_event": TriggerEvent.BIRTHDAY, "offset_hours": 3})
    assert not form.is_valid() and "offset_hours" in form.errors


@pytest.mark.django_db
def test_demo_rules_are_valid_and_idempotent():
    from automation.demo import DEMO_RULES, ensure_demo_rules
    from automation.models import AutomationRule

    assert ensure_demo_rules() == len(DEMO_RULES) == 8
    assert ensure_demo_rules() == 0
    for rule in AutomationRule.objects.all():
        form = AutomationRuleForm(
            data={
                "name": rule.name,
                "trigger_event": rule.trigger_event,
                "offset_hours": rule.offset_hours,
                "late_booking": rule.late_booking,
                "channel": rule.channel,
                "subject_template": rule.subject_template,
                "body_template": rule.body_template,
                "is_active": "on",
            },
            instance=rule,
        )
        assert form.is_valid(), (rule.name, form.errors)
