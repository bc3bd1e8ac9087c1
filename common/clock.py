"""The studio clock: the one place that knows which zone "the studio" lives in.

Django's *current* time zone is the viewer's (staff pages activate a per-user zone),
so ``timezone.localdate()`` and ``get_current_timezone()`` answer for whoever is
looking, not for the studio. Anything that means the studio's calendar day —
when a payment turns overdue, which month an SMS cap counts, a segment's "today" —
asks here instead.
"""

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils import timezone


def studio_tz() -> ZoneInfo:
    return ZoneInfo(settings.STUDIO_TIME_ZONE)


def studio_now(now: datetime | None = None) -> datetime:
    """``now`` (default: the current moment) on the studio's wall clock."""
    return (now or timezone.now()).astimezone(studio_tz())


def studio_today(now: datetime | None = None) -> date:
    """The studio's calendar date at ``now`` (default: the current moment)."""
    return studio_now(now).date()


def studio_midnight(day: date) -> datetime:
    """The aware moment the studio's ``day`` begins."""
    return datetime.combine(day, time.min, tzinfo=studio_tz())
