"""Reads about sessions that more than one screen needs."""

from django.db.models import QuerySet

from clients.roles import is_manager
from scheduling.models import Session


def scope_sessions(sessions: QuerySet[Session], user) -> QuerySet[Session]:
    """The admin's scope: everything for studio managers, their own clients' sessions
    for a trainer (``SessionAdmin.trainer_lookup``)."""
    if is_manager(user):
        return sessions
    return sessions.filter(client__trainer=user)


def visible_sessions(user) -> QuerySet[Session]:
    return scope_sessions(Session.objects.all(), user)
