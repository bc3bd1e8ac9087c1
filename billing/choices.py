"""Choices shared by the billing models (payments, receipts)."""

from django.db import models


class PaymentMethod(models.TextChoices):
    CARD = "card", "Card"
    CASH = "cash", "Cash"
    BANK_TRANSFER = "bank_transfer", "Bank transfer"
    ONLINE = "online", "Online (pay link)"
    OTHER = "other", "Other"
