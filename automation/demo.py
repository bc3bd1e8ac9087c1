"""Example rules for the demo studio (idempotent: looked up by name)."""

from automation.models import AutomationRule, TriggerEvent
from clients.models import Channel

DEMO_RULES = [
    {
        "name": "Booking confirmation",
        "trigger_event": TriggerEvent.SESSION_CREATED,
        "channel": Channel.IN_APP,
        "body_template": "Hi {{ first_name }}, you're booked with {{ trainer_name }} on {{ session_date }} "
        "at {{ session_time }}{% if session_location %} ({{ session_location }}){% endif %}.",
    },
    {
        "name": "Reminder 24 h before",
        "trigger_event": TriggerEvent.SESSION_SCHEDULED,
        "offset_hours": 24,
        "channel": Channel.SMS,
        "body_template": "See you tomorrow at {{ session_time }}, {{ first_name }}! Confirm: {{ confirm_link }} "
        "Can't make it? {{ cancel_link }}",
    },
    {
        "name": "Sorry we missed you",
        "trigger_event": TriggerEvent.SESSION_CANCELLED,
        "channel": Channel.EMAIL,
        "subject_template": "Your session on {{ session_date }}",
        "body_template": "Hi {{ first_name }}, your session on {{ session_date }} was cancelled. "
        "Book another one any time: {{ portal_link }}",
    },
    {
        "name": "Session moved",
        "trigger_event": TriggerEvent.SESSION_MOVED,
        "channel": Channel.EMAIL,
        "subject_template": "New time: {{ session_date }} at {{ session_time }}",
        "body_template": "Hi {{ first_name }}, your session with {{ trainer_name }} is now on {{ session_date }} "
        "at {{ session_time }}{% if session_location %} ({{ session_location }}){% endif %}. "
        "The attached invitation updates your calendar.",
    },
    {
        "name": "Payment overdue: day 3",
        "trigger_event": TriggerEvent.PAYMENT_OVERDUE,
        "offset_hours": 72,
        "channel": Channel.EMAIL,
        "subject_template": "A friendly reminder from {{ studio_name }}",
        # With Stripe configured the client can pay from the message; without it, see it in the portal.
        # amount_owed: a payment may be part paid, and the pay link asks for what is left.
        "body_template": "Hi {{ first_name }}, {{ amount_owed }} is still to pay on the payment due on "
        "{{ due_date }} ({{ days_overdue }} days ago). {% if pay_link %}Pay online: {{ pay_link }}"
        "{% else %}You can see it here: {{ portal_link }}{% endif %}",
    },
    {
        "name": "Package running low",
        "trigger_event": TriggerEvent.PACKAGE_LOW,
        "credits_threshold": 1,
        "channel": Channel.IN_APP,
        "body_template": "Hi {{ first_name }}, you have {{ credits_left }} session(s) left on your "
        "{{ package_name }} (use by {{ expires_on }}). Ask {{ trainer_name }} about the next one!",
    },
    {
        "name": "Package expires in a week",
        "trigger_event": TriggerEvent.PACKAGE_EXPIRING,
        "offset_hours": 7 * 24,
        "channel": Channel.EMAIL,
        "subject_template": "Your {{ package_name }} ends on {{ expires_on }}",
        "body_template": "Hi {{ first_name }}, {{ credits_left }} session(s) of your {{ package_name }} are still "
        "unused and it ends on {{ expires_on }}. Book them here: {{ booking_link }}",
    },
    {
        "name": "Birthday wishes",
        "trigger_event": TriggerEvent.BIRTHDAY,
        "channel": Channel.EMAIL,
        "subject_template": "Happy birthday, {{ first_name }}!",
        "body_template": "Happy birthday from everyone at {{ studio_name }}!\n\nUnsubscribe: {{ unsubscribe_link }}",
    },
]


def ensure_demo_rules() -> int:
    """Create the example rules that do not exist yet; returns how many were created."""
    created = 0
    for fields in DEMO_RULES:
        _, was_created = AutomationRule.objects.get_or_create(name=fields["name"], defaults=fields)
        created += was_created
    return created
