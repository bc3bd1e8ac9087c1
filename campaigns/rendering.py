"""Campaign subject and body, in the automation rules' restricted template language.

Campaigns use the client variables (``messaging.templating.CLIENT_VARIABLES``).
A campaign is compiled once and rendered per recipient with a flat context of strings,
built only for the variables the templates use (links are signed per call).
"""

from collections.abc import Callable

from django.core.exceptions import ValidationError

from messaging import templating
from messaging.sms_text import normalize_sms_text

#: Added to every marketing SMS: the way out, which the law expects in marketing texts.
STOP_FOOTER = "Reply STOP to opt out"


def sms_body(body: str) -> str:
    """A marketing SMS as it goes out: look-alikes swapped for GSM-7, the STOP footer added."""
    body = normalize_sms_text(body).rstrip()
    return body if body.endswith(STOP_FOOTER) else f"{body}\n{STOP_FOOTER}"


def validate(*, subject: str, body: str) -> None:
    """Raise ``ValidationError`` keyed by field when a template is not acceptable."""
    errors = {}
    for field, text in (("subject", subject), ("body", body)):
        try:
            templating.validate_template(text, allowed=templating.CLIENT_VARIABLES)
        except ValidationError as exc:
            errors[field] = exc.error_list
    if errors:
        raise ValidationError(errors)


def compile_campaign(*, subject: str, body: str, sample_links: bool = False) -> Callable:
    """A function ``client -> (subject, body)`` for one campaign's templates.

    ``client=None`` renders with sample values; ``sample_links`` keeps the real
    client's names but replaces their personal links (test sends).
    """
    subject_template = templating.validate_template(subject, allowed=templating.CLIENT_VARIABLES)
    body_template = templating.validate_template(body, allowed=templating.CLIENT_VARIABLES)
    names = templating.used_variables(subject_template) | templating.used_variables(body_template)
    sample = templating.sample_values(templating.CLIENT_VARIABLES)

    def render(client, now=None) -> tuple[str, str]:
        if client is None:
            context = sample
        else:
            # Test sends keep the client's names but never carry their live links.
            context = templating.context_for(client=client, now=now, names=names, sample_links=sample_links)
        return templating.render(subject_template, context), templating.render(body_template, context)

    return render
