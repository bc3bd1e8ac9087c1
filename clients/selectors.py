"""Reads about clients that more than one part of the studio needs."""

from django.db.models import QuerySet

from clients.models import Client
from clients.roles import is_manager


def scope_clients(clients: QuerySet[Client], user) -> QuerySet[Client]:
    """Narrow ``clients`` to the user's book: everyone for studio managers
    (and for ``None``, the system itself), their own clients for a trainer.
    The admin, the inbox and campaigns all scope through here."""
    if user is None or is_manager(user):
        return clients
    return clients.filter(trainer=user)


def visible_clients(user) -> QuerySet[Client]:
    return scope_clients(Client.objects.all(), user)


def client_email_taken(*, trainer, email: str, exclude_pk=None) -> bool:
    """Does this trainer already have another client with this email (any case)?"""
    email = (email or "").strip()
    if not email or trainer is None:
        return False
    return Client.objects.filter(trainer=trainer, email__iexact=email).exclude(pk=exclude_pk).exists()
