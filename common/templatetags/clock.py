"""{% load clock %}: the same wording as common.timefmt in templates."""

from django import template

from common import timefmt

register = template.Library()


@register.filter
def staff_datetime(moment, client_tz=None):
    """{{ session.starts_at|staff_datetime:session.client.tzinfo }}"""
    return timefmt.staff_datetime(moment, client_tz) if moment else ""


@register.filter
def staff_time(moment, client_tz=None):
    return timefmt.staff_time(moment, client_tz) if moment else ""


@register.filter
def staff_time_span(session, client_tz=None):
    """{{ session|staff_time_span:session.client.tzinfo }}: its start and end, without the day."""
    return timefmt.staff_time_span(session.starts_at, session.ends_at, client_tz) if session else ""


@register.filter
def client_time(moment, tz):
    """{{ session.starts_at|client_time:client.tzinfo }}"""
    return timefmt.client_time(moment, tz) if moment else ""
