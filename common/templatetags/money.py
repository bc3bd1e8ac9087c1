"""{% load money %}: amounts with their currency, worded as common.money words them."""

from django import template
from django.conf import settings

from common.money import format_amount

register = template.Library()


@register.filter
def money(amount, currency=None):
    """{{ payment.balance|money:payment.currency }}; the studio's currency when none is given."""
    if amount is None or amount == "":
        return ""
    return format_amount(amount, currency or settings.CURRENCY)
