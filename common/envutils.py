"""Strict readers for settings that come from the environment.

django-environ is lenient: ``env.bool("X")`` turns any unknown word into False.
A typo in production (``DEBUG=flase``) must stop start-up, not silently change
behaviour, so booleans go through :func:`strict_bool`.
"""

from django.core.exceptions import ImproperlyConfigured

TRUE_WORDS = {"1", "true", "yes", "on"}
FALSE_WORDS = {"0", "false", "no", "off", ""}


def strict_bool(env, name: str, default: bool) -> bool:
    raw = env.str(name, default=None)
    if raw is None:
        return default
    word = raw.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ImproperlyConfigured(
        f"{name}={raw!r} is not a boolean; use one of {sorted(TRUE_WORDS | FALSE_WORDS - {''})}."
    )
