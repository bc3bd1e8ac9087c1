"""The no-show and late-cancel policy: the studio's settings and one charge row per session.

The rules that apply them live in ``billing.charges``; these models only describe
their own rows.
"""

from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from common.models import TimeStampedModel

#: The window is at most 30 days; anything longer is a typo, not a policy.
MAX_WINDOW_HOURS = 24 * 30


class Charge(models.TextChoices):
    """What a late cancellation or a no-show costs the client."""

    NOTHING = "nothing", "Nothing"
    CREDIT = "credit", "One session credit"
    FEE_FIXED = "fee_fixed", "A fixed fee"
    FEE_PERCENT = "fee_percent", "A percentage of the session type's price"


class StudioPolicy(TimeStampedModel):
    """The studio's one row of settings (``billing.charges.studio_policy()`` creates it)."""

    late_cancel_window_hours = models.PositiveIntegerField(
        "late-cancel window (hours)",
        validators=[MaxValueValidator(MAX_WINDOW_HOURS, "The window is at most 720 hours (30 days).")],
        help_text="A cancellation less than this many hours before the start is late. Clients may cancel "
        "or move a session in the portal for free until then.",
    )
    clients_may_cancel_late = models.BooleanField(
        "clients may cancel late online",
        default=False,
        help_text="On: inside the window clients can still cancel in the portal, which tells them first "
        "what it will cost, and the late-cancel charge applies. Off: the portal refuses and asks them "
        "to contact the studio.",
    )
    late_cancel_charge = models.CharField(
        "a late cancellation costs", max_length=15, choices=Charge.choices, default=Charge.NOTHING
    )
    late_cancel_fee = models.DecimalField(
        "late-cancel fee",
        max_digits=8,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0.01"), "A fee is more than zero.")],
        help_text="For a fixed fee, in the studio's currency.",
    )
    late_cancel_percent = models.PositiveSmallIntegerField(
        "late-cancel fee (% of the price)",
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(100, "At most 100% of the price.")],
        help_text="For a percentage: of the session type's price. A session without a price is not charged.",
    )
    no_show_charge = models.CharField(
        "a no-show costs", max_length=15, choices=Charge.choices, default=Charge.NOTHING
    )
    no_show_fee = models.DecimalField(
        "no-show fee",
        max_digits=8,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0.01"), "A fee is more than zero.")],
        help_text="For a fixed fee, in the studio's currency.",
    )
    no_show_percent = models.PositiveSmallIntegerField(
        "no-show fee (% of the price)",
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(100, "At most 100% of the price.")],
        help_text="For a percentage: of the session type's price. A session without a price is not charged.",
    )
    grace_count = models.PositiveSmallIntegerField(
        "free ones",
        default=0,
        validators=[MaxValueValidator(20)],
        help_text="A client's first this many late cancellations and no-shows (together) within the "
        "period below cost nothing. 0: none is free.",
    )
    grace_days = models.PositiveSmallIntegerField(
        "grace period (days)",
        default=90,
        validators=[MinValueValidator(1), MaxValueValidator(3650)],
        help_text="Counted back from each late cancellation or no-show.",
    )
    fee_due_days = models.PositiveSmallIntegerField(
        "fee due after (days)",
        default=0,
        validators=[MaxValueValidator(365)],
        help_text="0: a fee is due the same day.",
    )
    client_note = models.TextField(
        "note for clients",
        blank=True,
        max_length=500,
        help_text="Shown after the policy on the portal (e.g. “Questions? Call us on 020 7946 0000.”).",
    )

    class Meta:
        verbose_name = "no-show and late-cancel policy"
        verbose_name_plural = "no-show and late-cancel policy"
        constraints = [
            # One studio, one row.
            models.CheckConstraint(condition=models.Q(pk=1), name="studiopolicy_single_row"),
        ]

    def __str__(self):
        return "No-show and late-cancel policy"

    def charge_for(self, kind: str) -> tuple[str, Decimal | None, int | None]:
        """(charge, fixed fee, percentage) for a ``SessionCharge.Kind``."""
        if kind == SessionCharge.Kind.NO_SHOW:
            return self.no_show_charge, self.no_show_fee, self.no_show_percent
        return self.late_cancel_charge, self.late_cancel_fee, self.late_cancel_percent

    def clean(self):
        errors = {}
        for prefix in ("late_cancel", "no_show"):
            charge = getattr(self, f"{prefix}_charge")
            if charge == Charge.FEE_FIXED and not getattr(self, f"{prefix}_fee"):
                errors[f"{prefix}_fee"] = "Enter the fee, or choose another charge."
            if charge == Charge.FEE_PERCENT and not getattr(self, f"{prefix}_percent"):
                errors[f"{prefix}_percent"] = "Enter the percentage, or choose another charge."
        if errors:
            raise ValidationError(errors)


class SessionCharge(TimeStampedModel):
    """What the policy did about one no-show or late cancellation: once per session, ever.

    The unique session is the once-only guard (as ``AutomationLog`` is automation's):
    a retried or concurrent status change finds the row and does nothing. A waived
    charge stays, marked waived, so it never applies again.
    """

    class Kind(models.TextChoices):
        NO_SHOW = "no_show", "No-show"
        LATE_CANCEL = "late_cancel", "Late cancellation"

    class Outcome(models.TextChoices):
        NOTHING = "nothing", "Nothing charged"
        FREE = "free", "Free (grace)"
        FEE = "fee", "Fee"
        CREDIT = "credit", "Credit used"

    session = models.OneToOneField("scheduling.Session", on_delete=models.CASCADE, related_name="charge")
    # The session's client, kept here for the grace count and the per-trainer admin.
    client = models.ForeignKey("clients.Client", on_delete=models.CASCADE, related_name="session_charges")
    kind = models.CharField(max_length=15, choices=Kind.choices)
    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    fee_payment = models.OneToOneField(
        "billing.Payment",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="session_charge",
        help_text="The fee's payment.",
    )
    credit_entry = models.OneToOneField(
        "billing.CreditEntry",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="session_charge",
        help_text="The credit it used (the ledger's row).",
    )
    note = models.CharField(max_length=300, blank=True, help_text="Why this outcome.")
    waived_at = models.DateTimeField(null=True, blank=True)
    waived_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    waive_reason = models.CharField(max_length=500, blank=True)
    corrected = models.BooleanField(
        default=False,
        help_text="Undone because the no-show was corrected to completed (it never counted).",
    )

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(outcome="fee", fee_payment__isnull=False)
                | (~models.Q(outcome="fee") & models.Q(fee_payment__isnull=True)),
                name="sessioncharge_fee_has_payment",
            ),
            models.CheckConstraint(
                condition=models.Q(outcome="credit", credit_entry__isnull=False)
                | (~models.Q(outcome="credit") & models.Q(credit_entry__isnull=True)),
                name="sessioncharge_credit_has_entry",
            ),
            models.CheckConstraint(
                condition=models.Q(waived_at__isnull=True, waive_reason="", corrected=False)
                | (models.Q(waived_at__isnull=False) & ~models.Q(waive_reason="")),
                name="sessioncharge_waived_has_reason",
            ),
        ]
        indexes = [models.Index(fields=["client", "created_at"])]

    def __str__(self):
        return f"{self.get_kind_display()} — {self.get_outcome_display().lower()}"

    @property
    def is_waived(self) -> bool:
        return self.waived_at is not None
