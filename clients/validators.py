import functools
import zoneinfo

from django.core.exceptions import ValidationError


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
