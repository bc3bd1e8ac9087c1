from datetime import UTC, datetime


def utc(*args) -> datetime:
    """An aware UTC datetime: ``utc(2026, 12, 1, 9)``."""
    return datetime(*args, tzinfo=UTC)
