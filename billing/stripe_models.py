"""What FitCRM keeps of Stripe: the Checkout Sessions behind pay links, and each webhook event.

Imported by ``billing.models`` (the app's models live in one namespace); the logic is in
``billing.stripe_links`` (pay links, Checkout Sessions) and ``billing.stripe_events``
(the webhook).
"""

from django.db import models


class StripeCheckout(models.Model):
    """One Stripe Checkout Session created for a payment's pay link.

    A pay link reuses the newest session while it is open and still asks for the
    payment's current balance; otherwise it makes a new one that ``replaces`` it. The
    chain is unique at each step — one first session per payment, one successor per
    session — so two clicks at once cannot leave two live sessions for one balance.
    """

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        COMPLETE = "complete", "Paid"
        EXPIRED = "expired", "Expired"

    payment = models.ForeignKey("billing.Payment", on_delete=models.CASCADE, related_name="stripe_checkouts")
    replaces = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="replaced_by"
    )
    session_id = models.CharField("Stripe session", max_length=255, unique=True)
    url = models.URLField(max_length=2000)
    amount = models.DecimalField(
        max_digits=10, decimal_places=2, help_text="The balance this session asks for."
    )
    currency = models.CharField(max_length=3)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    expires_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["payment"],
                condition=models.Q(replaces__isnull=True),
                name="stripe_checkout_one_first_per_payment",
            ),
        ]

    def __str__(self):
        return f"{self.session_id} ({self.amount} {self.currency}, {self.get_status_display().lower()})"


class StripeEvent(models.Model):
    """A webhook event Stripe delivered, once: its id is unique, so a replay changes nothing."""

    class Outcome(models.TextChoices):
        PAID = "paid", "Payment marked paid"
        IGNORED = "ignored", "Ignored"
        MISMATCH = "mismatch", "Amount or currency does not match"
        UNKNOWN_PAYMENT = "unknown_payment", "Unknown payment"
        NOT_OPEN = "not_open", "Payment no longer open"
        AWAITING = "awaiting", "Awaiting the payment's confirmation"
        EXPIRED = "expired", "Checkout expired"

    event_id = models.CharField(max_length=255, unique=True)
    type = models.CharField(max_length=100)
    outcome = models.CharField(max_length=20, choices=Outcome.choices)
    detail = models.TextField(blank=True)
    payment = models.ForeignKey(
        "billing.Payment", null=True, blank=True, on_delete=models.SET_NULL, related_name="stripe_events"
    )
    created = models.DateTimeField(help_text="When Stripe created the event.")
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-received_at", "-pk"]
        indexes = [models.Index(fields=["outcome", "received_at"])]

    def __str__(self):
        return f"{self.type} {self.event_id}: {self.get_outcome_display().lower()}"
