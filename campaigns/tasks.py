"""django-q2 entry points: they take ids and call services."""

from campaigns import services


def plan_campaign(campaign_id: int) -> int | None:
    result = services.campaign_plan(campaign_id=campaign_id)
    return None if result is None else result.recipients


def send_due_campaigns() -> int:
    """Run every minute by the django-q2 schedule (see ``campaigns.schedules``)."""
    return services.send_due_campaigns()
