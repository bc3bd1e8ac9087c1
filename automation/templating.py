"""Which template variables each automation event offers, and its sample values.

The language itself (validation, limits, rendering, the recipient's context) lives in
``messaging.templating``, shared with campaigns; automation only decides what an
event's rules may say.
"""

from django.template.base import Template

from automation.models import TriggerEvent
from messaging.templating import (
    CHARGE_VARIABLES,
    CLIENT_VARIABLES,
    PACKAGE_VARIABLES,
    PAYMENT_VARIABLES,
    SESSION_VARIABLES,
    sample_values,
    validate_template,
)

SESSION_EVENTS = frozenset(
    {
        TriggerEvent.SESSION_CREATED,
        TriggerEvent.SESSION_SCHEDULED,
        TriggerEvent.SESSION_CANCELLED,
        TriggerEvent.SESSION_MOVED,
    }
)
PAYMENT_EVENTS = frozenset({TriggerEvent.PAYMENT_DUE, TriggerEvent.PAYMENT_OVERDUE})
#: A no-show or late cancellation: the session, the policy's charge, and the fee's payment
#: (its payment variables are empty when no fee applies).
CHARGE_EVENTS = frozenset({TriggerEvent.SESSION_NO_SHOW, TriggerEvent.SESSION_LATE_CANCELLED})
PACKAGE_EVENTS = frozenset({TriggerEvent.PACKAGE_LOW, TriggerEvent.PACKAGE_EXPIRING})


def variables_for(event: str | None) -> dict[str, str]:
    """The variables a rule for ``event`` may use (``None``: the client's only)."""
    if event in CHARGE_EVENTS:
        return CLIENT_VARIABLES | SESSION_VARIABLES | PAYMENT_VARIABLES | CHARGE_VARIABLES
    if event in SESSION_EVENTS:
        return CLIENT_VARIABLES | SESSION_VARIABLES
    if event in PAYMENT_EVENTS:
        return CLIENT_VARIABLES | PAYMENT_VARIABLES
    if event in PACKAGE_EVENTS:
        return CLIENT_VARIABLES | PACKAGE_VARIABLES
    return dict(CLIENT_VARIABLES)


def validate_for_event(text: str, event: str | None) -> Template:
    """Compile ``text`` and check it uses only ``event``'s variables."""
    return validate_template(text, allowed=variables_for(event))


def sample_context(event: str | None) -> dict[str, str]:
    """Believable values for every variable of ``event``."""
    return sample_values(variables_for(event))
