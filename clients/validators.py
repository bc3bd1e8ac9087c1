import functools
import zoneinfo
from datetime import date

from django.core.exceptions import ValidationError

from common.clock import studio_today


@functools.cache
def known_timezones() -> frozenset:
    # available_timezones() walks the tz database on disk on every call.
    return frozenset(zoneinfo.available_timezones())


def validate_timezone(value: str) -> None:
    if value and value not in known_timezones():
        raise ValidationError(
            "“%(value)s” is not a known time zone. Use an IANA name such as Europe/London "
            "or America/New_York, or leave it blank for the studio's time zone.",
            code="invalid_timezone",
            params={"value": value},
        )


EARLIEST_BIRTH_DATE = date(1900, 1, 1)


def validate_birth_date(value: date) -> None:
    """A real person's birthday: after 1900 and not after today (the studio's day)."""
    if value and not EARLIEST_BIRTH_DATE <= value <= studio_today():
        raise ValidationError(
            "Enter a birth date between 1 January 1900 and today.", code="birth_date_out_of_range"
        )
