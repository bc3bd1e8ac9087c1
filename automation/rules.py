"""Writing rules: who owns a rule, and how it goes live.

A trainer's rules reach only her own clients: whatever the form said, the scope is
forced to herself. Managers write studio-wide rules (or scope one to a trainer).
Every new rule starts as a draft (inactive): its page forecasts what it would send
(``automation.forecast.rule_forecast``) and *Activate* turns it on.
"""

from django.db.models import Q, QuerySet

from automation.models import AutomationRule
from clients.roles import is_manager


def editable_rules(user) -> QuerySet:
    """The rules ``user`` may change: all for a manager, a trainer's own otherwise."""
    rules = AutomationRule.objects.all()
    return rules if is_manager(user) else rules.filter(trainer=user)


def visible_rules(user) -> QuerySet:
    """A trainer also sees the studio-wide rules (read-only); another trainer's never."""
    rules = AutomationRule.objects.all()
    return rules if is_manager(user) else rules.filter(Q(trainer__isnull=True) | Q(trainer=user))


def may_edit(user, rule: AutomationRule) -> bool:
    return is_manager(user) or (rule.trainer_id is not None and rule.trainer_id == user.pk)


def rule_save(*, rule: AutomationRule, user, is_new: bool) -> AutomationRule:
    """Save a rule written by ``user``: a trainer's is hers alone; a new one is a draft."""
    if not is_manager(user):
        rule.trainer = user
    if is_new:
        rule.is_active = False
    rule.save()
    return rule


def rule_set_active(*, rules: QuerySet, user, active: bool) -> int:
    """Activate or deactivate the rules of ``rules`` that ``user`` may change."""
    return editable_rules(user).filter(pk__in=rules.values("pk")).update(is_active=active)
