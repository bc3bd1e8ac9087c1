"""django-q2 tasks: they take ids (and ISO timestamps) and call the services."""

from datetime import datetime

from automation import retention, scan, services


def handle_event(event: str, pk: int, at: str | None = None) -> dict:
    result = services.handle_event(event=event, pk=pk, at=datetime.fromisoformat(at) if at else None)
    return {rule_id: dict(counts) for rule_id, counts in result.per_rule.items()}


def run_scan() -> str:
    """The periodic schedule's and the trigger endpoint's unit of work."""
    result = scan.scan()
    return "\n".join(result.summary())


def prune_history() -> str:
    """The daily housekeeping schedule (``automation.schedules``)."""
    result = retention.prune_history()
    return ", ".join(f"{name}: {value}" for name, value in result.items())
