"""``{% load inbox %}``: the unread badge shown in the admin header.

Registered under ``TEMPLATES[...]["OPTIONS"]["libraries"]`` because
``messaging.inbox`` is a package of the messaging app, not an app of its own.
"""

from django import template
from django.utils import timezone

from messaging import activity, holds
from messaging.inbox.selectors import unread_total

register = template.Library()


@register.simple_tag(takes_context=True)
def inbox_unread_total(context) -> int:
    if context.get("inbox_unread_total") is not None:
        # A page that has counted the viewer's unread messages already (the dashboard).
        return context["inbox_unread_total"]
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or not user.has_perm("messaging.view_message"):
        return 0
    return unread_total(user)


@register.filter
def can_use_inbox(user) -> bool:
    return bool(user and user.is_authenticated and user.is_staff and user.has_perm("messaging.view_message"))


@register.filter
def hold_reason(message) -> str:
    """Why a queued message waits and until when ("held until 08:00 (client's time) — quiet hours")."""
    return holds.hold_reason(message) or ""


@register.filter
def activity_text(item) -> str:
    """What a client did, in words, with times in the viewer's zone."""
    return activity.describe_activity(item, timezone.get_current_timezone())
