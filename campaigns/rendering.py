"""Campaign subject and body: the automation rules' restricted template language.

Compiled once per campaign and rendered per recipient with a flat context of strings.
"""

from collections.abc import Callable

from django.conf import settings


def client_context(client) -> dict[str, str]:
    if client is None:
        return {"first_name": "", "last_name": "", "full_name": "", "studio_name": settings.STUDIO_NAME}
    return {
        "first_name": client.first_name,
        "last_name": client.last_name,
        "full_name": client.full_name,
        "studio_name": settings.STUDIO_NAME,
    }


def validate(*, subject: str, body: str) -> None:
    """Raise ValidationError (keyed by field) when a template is not acceptable."""


def compile_campaign(*, subject: str, body: str) -> Callable:
    """A function ``client -> (subject, body)`` for one campaign's templates."""

    def render(client):
        return subject, body

    return render
