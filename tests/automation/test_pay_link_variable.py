"""``pay_link`` in payment rules: the client's pay link, and nothing at all without Stripe."""

from datetime import timedelta

import pytest
import time_machine
from django.core.exceptions import ValidationError

from automation.demo import DEMO_RULES
from automation.forms import AutomationRuleForm
from automation.models import TriggerEvent
from automation.templating import sample_context, validate_for_event
from billing import services as billing
from billing.models import Payment
from billing.stripe_links import pay_token, payment_from_pay_token
from messaging.models import Message
from tests.factories import PaymentFactory
from tests.support.clock import utc

pytestmark = pytest.mark.django_db

NOW = utc(2026, 11, 25, 10, 0)
SITE = "https://crm.studio.example"
OVERDUE_BODY = (
    "Your payment of {{ amount }} is overdue."
    "{% if pay_link %} Pay here: {{ pay_link }}{% else %} Please pay at your next session.{% endif %}"
)


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def stripe_on(settings):
    settings.STRIPE_SECRET_KEY = "sk_test_x"
    settings.STRIPE_WEBHOOK_SECRET = "whsec_x"
    settings.SITE_URL = SITE


def overdue_message(client_obj, make_rule, django_capture_on_commit_callbacks):
    make_rule(TriggerEvent.PAYMENT_OVERDUE, body_template=OVERDUE_BODY)
    payment = Payment.objects.get(
        pk=PaymentFactory(client=client_obj, due_date=NOW.date() - timedelta(days=2)).pk
    )
    with django_capture_on_commit_callbacks(execute=True):
        billing.payment_mark_overdue(payment=payment)
    return payment, Message.objects.get()


def test_an_overdue_notice_carries_the_payment_s_own_pay_link(
    client_obj, make_rule, q_sync, django_capture_on_commit_callbacks, stripe_on
):
    payment, message = overdue_message(client_obj, make_rule, django_capture_on_commit_callbacks)

    assert message.body == f"Your payment of £45.00 is overdue. Pay here: {SITE}/pay/{pay_token(payment)}/"
    token = message.body.rsplit("/pay/", 1)[1].rstrip("/")
    assert payment_from_pay_token(token) == payment


def test_without_stripe_the_notice_reads_well_without_a_link(
    client_obj, make_rule, q_sync, django_capture_on_commit_callbacks, settings
):
    settings.STRIPE_SECRET_KEY = settings.STRIPE_WEBHOOK_SECRET = ""

    _payment, message = overdue_message(client_obj, make_rule, django_capture_on_commit_callbacks)

    assert message.body == "Your payment of £45.00 is overdue. Please pay at your next session."


@pytest.mark.parametrize(
    "text",
    [
        OVERDUE_BODY,
        "Pay: {{ pay_link|default:portal_link }}",
        "{% firstof pay_link portal_link %}",
        "{% if pay_link and amount %}{{ pay_link }}{% endif %}",
    ],
)
def test_a_rule_may_show_pay_link_where_it_cannot_be_empty(text):
    validate_for_event(text, TriggerEvent.PAYMENT_DUE)


@pytest.mark.parametrize(
    "text",
    [
        "Pay here: {{ pay_link }}",
        "{% if amount %}{{ pay_link }}{% endif %}",
        "{% if pay_link %}ok{% else %}{{ pay_link }}{% endif %}",
    ],
)
def test_a_bare_pay_link_is_refused_with_the_way_to_write_it(text):
    with pytest.raises(ValidationError) as exc:
        validate_for_event(text, TriggerEvent.PAYMENT_OVERDUE)
    assert "'pay_link' can be empty" in exc.value.messages[0]
    assert "{% if pay_link %}" in exc.value.messages[0]


def test_pay_link_is_a_payment_variable_only():
    with pytest.raises(ValidationError, match="Unknown variable 'pay_link'"):
        validate_for_event("{% if pay_link %}{{ pay_link }}{% endif %}", TriggerEvent.SESSION_CREATED)


def test_the_rule_form_says_why(trainer):
    form = AutomationRuleForm(
        data={
            "name": "Overdue",
            "trigger_event": TriggerEvent.PAYMENT_OVERDUE,
            "channel": "sms",
            "body_template": "Pay here: {{ pay_link }}",
            "offset_hours": 0,
        }
    )
    assert not form.is_valid()
    (error,) = form.errors["body_template"]
    assert error.startswith(
        "'pay_link' can be empty (no online payments, nothing owed): write {% if pay_link %}"
    )


def test_the_sample_follows_the_studio_s_settings(settings, stripe_on):
    assert sample_context(TriggerEvent.PAYMENT_OVERDUE)["pay_link"] == f"{SITE}/pay/sample-token/"
    settings.STRIPE_SECRET_KEY = ""
    assert sample_context(TriggerEvent.PAYMENT_OVERDUE)["pay_link"] == ""


def test_the_demo_overdue_rule_offers_the_pay_link_when_there_is_one():
    (rule,) = [r for r in DEMO_RULES if r["trigger_event"] == TriggerEvent.PAYMENT_OVERDUE]
    validate_for_event(rule["body_template"], rule["trigger_event"])
    assert "{% if pay_link %}Pay online: {{ pay_link }}" in rule["body_template"]


def test_the_demo_overdue_rule_asks_for_what_is_still_owed(stripe_on, settings):
    # seed_demo pays a third of some overdue payments: the reminder said "£60.00 was due"
    # while the pay link charges the £40.00 left.
    from decimal import Decimal

    from messaging import templating

    settings.CURRENCY = "GBP"
    (rule,) = [r for r in DEMO_RULES if r["trigger_event"] == TriggerEvent.PAYMENT_OVERDUE]
    payment = PaymentFactory(amount=Decimal("60.00"), due_date=NOW.date() - timedelta(days=3))
    billing.payment_record_receipt(payment=payment, amount=Decimal("20.00"))
    body = templating.render(
        validate_for_event(rule["body_template"], rule["trigger_event"]),
        templating.context_for(client=payment.client, payment=payment),
    )
    assert "£40.00" in body and "£60.00" not in body
