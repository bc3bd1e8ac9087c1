from datetime import date
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models

from billing.choices import PaymentMethod

# Receipts live in their own module; imported here so Django finds them with the app's models.
from billing.receipts import Receipt, ReceiptSequence  # noqa: F401
from clients.models import Client
from common.clock import studio_today
from common.models import TimeStampedModel


def default_currency() -> str:
    return settings.CURRENCY


# A due date is a day in this studio's working life; outside it, it is a typo
# (0001-01-01, 9999-12-31) that would break date arithmetic further on.
EARLIEST_DUE_DATE = date(2000, 1, 1)
DUE_DATE_YEARS_AHEAD = 10


def validate_due_date(value: date) -> None:
    latest = studio_today().replace(year=studio_today().year + DUE_DATE_YEARS_AHEAD, day=1)
    if value and not EARLIEST_DUE_DATE <= value <= latest:
        raise ValidationError(
            f"Enter a due date between 1 January 2000 and {latest:%d %B %Y}.", code="due_date_out_of_range"
        )


class Payment(TimeStampedModel):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        PAID = "paid", "Paid"
        OVERDUE = "overdue", "Overdue"
        CANCELLED = "cancelled", "Cancelled"

    Method = PaymentMethod

    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="payments")
    session = models.ForeignKey(
        "scheduling.Session", null=True, blank=True, on_delete=models.SET_NULL, related_name="payments"
    )
    amount = models.DecimalField(
        max_digits=10,
        decimal_places=2,
        validators=[MinValueValidator(Decimal("0.01"), "The amount must be greater than zero.")],
    )
    currency = models.CharField(max_length=3, default=default_currency, editable=False)
    due_date = models.DateField(validators=[validate_due_date])
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    paid_at = models.DateTimeField(null=True, blank=True)
    overdue_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When the payment turned overdue (escalation offsets count from here).",
    )
    method = models.CharField(max_length=15, choices=Method.choices, blank=True)
    reference = models.CharField(
        max_length=100, blank=True, help_text="A bank reference, a card slip number, an online payment id."
    )
    # What has been received so far; kept with the payment so a client's balance and
    # "owes more than X" segments are one sum over open payments. db_default: the
    # benchmarks insert payments with plain SQL.
    amount_paid = models.DecimalField(
        max_digits=10, decimal_places=2, default=Decimal("0"), db_default=Decimal("0"), editable=False
    )
    description = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-due_date", "-pk"]
        constraints = [
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="payment_amount_positive"),
            models.CheckConstraint(
                condition=models.Q(amount_paid__gte=0, amount_paid__lte=models.F("amount")),
                name="payment_amount_paid_within_amount",
            ),
            models.CheckConstraint(
                condition=~models.Q(status="paid") | models.Q(paid_at__isnull=False),
                name="payment_paid_has_paid_at",
                violation_error_message="A paid payment needs the date it was paid.",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "due_date"]),
            models.Index(fields=["status", "overdue_at"]),
            # No index on paid_at: revenue collected is counted from the receipts
            # (billing.receipts, receipt_collected_idx).
        ]

    def __str__(self):
        return f"{self.amount} {self.currency} from {self.client} due {self.due_date:%d %b %Y}"

    @property
    def balance(self) -> Decimal:
        """What is still owed on this payment (nothing once paid or cancelled)."""
        if self.status in (self.Status.PAID, self.Status.CANCELLED):
            return Decimal("0.00")
        return self.amount - self.amount_paid

    def clean(self):
        if self.session_id and self.client_id and self.session.client_id != self.client_id:
            raise ValidationError(
                {"session": "This session belongs to another client."}, code="session_client"
            )


# --- Packages and credits (billing/packages.py) ------------------------------------
from billing.packages import ClientPackage, CreditEntry, PackageType  # noqa: E402

# --- The no-show and late-cancel policy (billing/policy.py) -------------------------
from billing.policy import SessionCharge, StudioPolicy  # noqa: E402

# --- Online pay links (Stripe) -------------------------------------------------------------
# Their own module; imported here so Django finds them in the billing app.
from billing.stripe_models import StripeCheckout, StripeEvent  # noqa: E402

__all__ = [
    "ClientPackage",
    "CreditEntry",
    "PackageType",
    "Payment",
    "SessionCharge",
    "StripeCheckout",
    "StripeEvent",
    "StudioPolicy",
]
