"""Reads about clients that more than one write path needs."""

from clients.models import Client


def client_email_taken(*, trainer, email: str, exclude_pk=None) -> bool:
    """Does this trainer already have another client with this email (any case)?"""
    email = (email or "").strip()
    if not email or trainer is None:
        return False
    return Client.objects.filter(trainer=trainer, email__iexact=email).exclude(pk=exclude_pk).exists()
