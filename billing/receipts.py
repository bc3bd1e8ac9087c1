"""Receipts: one row per amount received on a payment, numbered in one running series.

A payment is paid in one go or in parts; each part is a ``Receipt`` (how much, when,
how, a reference, who recorded it). ``Payment.amount_paid`` is the sum of its receipts,
kept in step by ``billing.services`` under the payment row's lock, so a balance is one
subtraction and the client's balance one sum over open payments.

Receipt numbers run per studio (one studio per installation): ``ReceiptSequence`` is a
single counter row, taken with a row lock in the transaction that records the receipt.
Two receipts recorded at once wait for each other there, so a number is never given
twice; a transaction that rolls back gives its number back. The unique constraint on
``number`` is the database's own guarantee behind that.
"""

from decimal import Decimal

from django.conf import settings
from django.db import models

from billing.choices import PaymentMethod
from common.models import TimeStampedModel


class ReceiptSequence(models.Model):
    """The last receipt number given (a single row, pk 1)."""

    last_number = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = "receipt number sequence"

    def __str__(self):
        return f"Last receipt number: {self.last_number}"


class Receipt(TimeStampedModel):
    # CASCADE: deleting a payment (or its client) takes its receipts along; the admin lists
    # them on the delete confirmation page.
    payment = models.ForeignKey("billing.Payment", on_delete=models.CASCADE, related_name="receipts")
    number = models.PositiveIntegerField(unique=True, editable=False)
    amount = models.DecimalField(max_digits=10, decimal_places=2)
    paid_at = models.DateTimeField("received", help_text="When the money arrived.")
    # Blank: not recorded (a payment marked paid by a script or before receipts existed).
    method = models.CharField(max_length=15, choices=PaymentMethod.choices, blank=True)
    reference = models.CharField(max_length=100, blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The last time it was emailed to the client (by hand or automatically); the
    # automatic email claims an empty one, so it goes once however often its task runs.
    emailed_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-number"]
        constraints = [
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="receipt_amount_positive"),
        ]
        indexes = [
            # Money received per month (the dashboard's revenue, scoped through the payment's
            # client) read from the index alone on PostgreSQL; also the receipt list's dates.
            models.Index(fields=["paid_at"], include=["amount", "payment_id"], name="receipt_collected_idx"),
        ]

    def __str__(self):
        return f"Receipt {self.label}"

    @property
    def label(self) -> str:
        """The number as printed: R00042."""
        return format_receipt_number(self.number) if self.number is not None else ""

    @property
    def method_label(self) -> str:
        return self.get_method_display() or "Not recorded"


def format_receipt_number(number: int) -> str:
    return f"R{number:05d}"


ZERO = Decimal("0.00")
