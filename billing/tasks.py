"""django-q2 tasks of billing: each calls a service."""

from billing import credits


def expire_packages() -> int:
    # Hourly, so the expiry lands within the hour after the studio's midnight; a
    # second run (or two at once) finds nothing left to expire.
    return credits.packages_expire()
