"""Session packages and the credits ledger (models; the rules are in ``billing.credits``).

A client buys a ``ClientPackage`` of some ``PackageType``; every change to its credits
is a ``CreditEntry`` row (purchase +N, spend −1 for a session, return +1 reversing a
spend, staff adjustment ±, expiry −what was left). Credits left is the sum of the
package's rows, never a stored counter, so every credit can be traced and reversed.
"""

from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from clients.models import Client
from common.models import TimeStampedModel

MAX_SESSIONS_PER_PACKAGE = 1000
MAX_VALIDITY_DAYS = 10 * 366


class PackageType(TimeStampedModel):
    """What the studio sells: N sessions for a price, to be used within some days."""

    name = models.CharField(max_length=100)
    sessions = models.PositiveIntegerField(
        "number of sessions",
        validators=[
            MinValueValidator(1, "A package holds at least one session."),
            MaxValueValidator(MAX_SESSIONS_PER_PACKAGE, "A package holds at most 1,000 sessions."),
        ],
    )
    price = models.DecimalField(
        max_digits=10,
        decimal_places=2,
        validators=[MinValueValidator(Decimal("0.01"), "The price must be greater than zero.")],
    )
    validity_days = models.PositiveIntegerField(
        "valid for (days)",
        null=True,
        blank=True,
        validators=[
            MinValueValidator(1, "A package is valid for at least one day."),
            MaxValueValidator(MAX_VALIDITY_DAYS, "A package is valid for at most ten years."),
        ],
        help_text="Counted from the day it is bought (that day is day 1). Blank: it never expires.",
    )
    session_types = models.ManyToManyField(
        "scheduling.SessionType",
        blank=True,
        related_name="package_types",
        help_text="The kinds of session its credits pay for. None: every session, typed or not.",
    )
    shareable = models.BooleanField(
        default=False,
        help_text="The buyer may name other clients (a partner, a child) who can use its credits too.",
    )
    is_active = models.BooleanField("on sale", default=True)

    class Meta:
        ordering = ["name", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(sessions__gte=1, sessions__lte=MAX_SESSIONS_PER_PACKAGE),
                name="packagetype_sessions_range",
            ),
            models.CheckConstraint(condition=models.Q(price__gt=0), name="packagetype_price_positive"),
        ]

    def __str__(self):
        return self.name


class ClientPackage(TimeStampedModel):
    """One package a client bought; its credits are the sum of its ledger rows."""

    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="packages")
    package_type = models.ForeignKey(PackageType, on_delete=models.PROTECT, related_name="sold")
    bought_on = models.DateField()
    valid_until = models.DateField(
        null=True, blank=True, help_text="The last day its credits can be used. Blank: never expires."
    )
    payment = models.OneToOneField(
        "billing.Payment", null=True, blank=True, on_delete=models.SET_NULL, related_name="package"
    )
    shared_with = models.ManyToManyField(
        Client,
        blank=True,
        related_name="shared_packages",
        help_text="Shareable packages only: other clients who may use its credits.",
    )
    sold_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-bought_on", "-pk"]
        indexes = [models.Index(fields=["client", "bought_on"]), models.Index(fields=["valid_until"])]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(valid_until__isnull=True)
                | models.Q(valid_until__gte=models.F("bought_on")),
                name="clientpackage_valid_after_bought",
            ),
        ]

    def __str__(self):
        return f"{self.package_type} — {self.client} ({self.bought_on:%d %b %Y})"

    def is_valid_on(self, day) -> bool:
        return self.bought_on <= day and (self.valid_until is None or day <= self.valid_until)


class CreditEntry(models.Model):
    """One change to a package's credits. Rows are only ever added.

    The one field ever changed after insert is ``returned`` on a spend, set in the
    transaction that adds its return row: it lets the database hold the rule that a
    session has at most one spend that has not been returned.
    """

    class Kind(models.TextChoices):
        PURCHASE = "purchase", "Purchase"
        SPEND = "spend", "Spent on a session"
        RETURN = "return", "Returned"
        ADJUSTMENT = "adjustment", "Staff adjustment"
        EXPIRY = "expiry", "Expired"

    package = models.ForeignKey(ClientPackage, on_delete=models.CASCADE, related_name="entries")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    delta = models.SmallIntegerField(help_text="Credits added (positive) or taken (negative).")
    session = models.ForeignKey(
        "scheduling.Session",
        null=True,
        blank=True,
        # RESTRICT: a session that used a credit is cancelled, not deleted (its client's
        # deletion still takes both away together).
        on_delete=models.RESTRICT,
        related_name="credit_entries",
    )
    reason = models.CharField(max_length=200, blank=True)
    reverses = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="reversed_by"
    )
    returned = models.BooleanField(default=False, help_text="A spend whose credit has been given back.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["created_at", "pk"]
        verbose_name = "credit entry"
        verbose_name_plural = "credit ledger"
        indexes = [models.Index(fields=["package", "kind"])]
        constraints = [
            # A session spends at most one credit at a time, however many workers complete it.
            models.UniqueConstraint(
                fields=["session"],
                condition=models.Q(kind="spend", returned=False),
                name="creditentry_one_open_spend_per_session",
            ),
            models.UniqueConstraint(
                fields=["package"], condition=models.Q(kind="expiry"), name="creditentry_expires_once"
            ),
            models.CheckConstraint(
                condition=(
                    models.Q(kind="purchase", delta__gt=0)
                    | models.Q(kind="spend", delta=-1, session__isnull=False)
                    | models.Q(kind="return", delta=1, reverses__isnull=False)
                    | (models.Q(kind="adjustment") & ~models.Q(delta=0) & ~models.Q(reason=""))
                    | models.Q(kind="expiry", delta__lt=0)
                ),
                name="creditentry_kind_delta",
                violation_error_message="This change of credits does not fit its kind.",
            ),
            models.CheckConstraint(
                condition=models.Q(returned=False) | models.Q(kind="spend"),
                name="creditentry_only_spends_return",
            ),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} {self.delta:+d} ({self.package})"
