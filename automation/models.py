from datetime import UTC

from django.conf import settings
from django.core.validators import MaxValueValidator
from django.db import models

from clients.models import Category, Channel
from common.models import TimeStampedModel
from scheduling.models import Session


class TriggerEvent(models.TextChoices):
    SESSION_CREATED = "session_created", "Session booked"
    SESSION_SCHEDULED = "session_scheduled", "Before a session starts"
    SESSION_CANCELLED = "session_cancelled", "Session cancelled"
    SESSION_MOVED = "session_moved", "Session moved (new time)"
    SESSION_NO_SHOW = "session_no_show", "Session missed (no-show)"
    SESSION_LATE_CANCELLED = "session_late_cancelled", "Session cancelled late"
    PAYMENT_DUE = "payment_due", "Payment due"
    PAYMENT_OVERDUE = "payment_overdue", "Payment overdue"
    BIRTHDAY = "birthday", "Client's birthday"
    PACKAGE_LOW = "package_low", "Package running low"
    PACKAGE_EXPIRING = "package_expiring", "Before a package expires"


#: Birthday wishes are marketing (they need consent); everything else is a notice
#: about the client's own sessions and payments.
DEFAULT_CATEGORY = {event: Category.TRANSACTIONAL for event in TriggerEvent.values} | {
    TriggerEvent.BIRTHDAY: Category.MARKETING
}


class AutomationRule(TimeStampedModel):
    class LateBooking(models.TextChoices):
        SEND_NOW = "send_now", "Send at once"
        SKIP = "skip", "Skip"

    name = models.CharField(max_length=100)
    trigger_event = models.CharField(max_length=30, choices=TriggerEvent.choices)
    channel = models.CharField(max_length=10, choices=Channel.choices)
    category = models.CharField(
        max_length=15,
        choices=Category.choices,
        blank=True,
        help_text="Blank: news and offers for birthdays, reminders and notices for everything else.",
    )
    subject_template = models.CharField(max_length=200, blank=True, help_text="Email only.")
    body_template = models.TextField()
    offset_hours = models.IntegerField(
        default=0,
        help_text="Before a session: hours before it starts. Payment due: hours before the due date "
        "(a second notice besides the one on creation). Payment overdue: hours after it turned overdue. "
        "Before a package expires: hours before the end of its last day (168 = a week).",
    )
    credits_threshold = models.PositiveSmallIntegerField(
        "credits left at most",
        default=1,
        validators=[MaxValueValidator(100, "Pick at most 100 credits.")],
        help_text="Package running low: fires once per package when its credits left fall to this many or fewer.",
    )
    trainer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="automation_rules",
        help_text="Only this trainer's clients. Blank: the whole studio.",
    )
    late_booking = models.CharField(
        "booked inside the reminder window",
        max_length=10,
        choices=LateBooking.choices,
        default=LateBooking.SEND_NOW,
        help_text="Before a session: what to do when a session is booked or moved so late that "
        "its reminder time has already passed.",
    )
    merge_minutes = models.PositiveSmallIntegerField(
        "merge within (minutes)",
        default=0,
        validators=[MaxValueValidator(60, "Merge occurrences at most an hour apart.")],
        help_text="Several occurrences of this rule for one client falling due within this many minutes "
        "go as one message listing them (e.g. several sessions booked at once). 0: one message each. "
        "A weekly series booking is always one message.",
    )
    only_booked_by = models.CharField(
        "only sessions booked by",
        max_length=10,
        choices=[("", "Anyone (staff or the client online)"), *Session.BookedBy.choices],
        blank=True,
        default="",
        help_text="Session events only. Client (online): only sessions the client booked in the portal, "
        'e.g. "Thanks for booking online". Staff: only sessions staff booked. Blank: every session. '
        "Other sessions are logged as skipped with the reason.",
    )
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(offset_hours__gte=0, offset_hours__lte=24 * 366),
                name="automationrule_offset_range",
                violation_error_message="The offset is between 0 hours and a year.",
            ),
        ]
        indexes = [models.Index(fields=["is_active", "trigger_event"])]

    def __str__(self):
        return self.name

    @property
    def effective_category(self) -> str:
        return self.category or DEFAULT_CATEGORY[self.trigger_event]

    def in_scope(self, client) -> bool:
        return self.trainer_id is None or client.trainer_id == self.trainer_id


class AutomationLog(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENT = "sent", "Sent"
        SKIPPED = "skipped", "Skipped"
        FAILED = "failed", "Failed"

    rule = models.ForeignKey(AutomationRule, on_delete=models.PROTECT, related_name="logs")
    occurrence_key = models.CharField(max_length=200)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    client = models.ForeignKey(
        "clients.Client", null=True, blank=True, on_delete=models.SET_NULL, related_name="automation_logs"
    )
    message = models.ForeignKey(
        "messaging.Message", null=True, blank=True, on_delete=models.SET_NULL, related_name="automation_logs"
    )
    error = models.TextField(blank=True, help_text="Why it was skipped, or what failed.")
    # db_default: the engine claims rows with a raw INSERT that names only the claim's columns.
    note = models.CharField(
        max_length=200,
        blank=True,
        default="",
        db_default="",
        help_text="Sent together with others: what the one message covered.",
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["rule", "occurrence_key"], name="automationlog_once_per_occurrence"
            ),
        ]
        indexes = [models.Index(fields=["rule", "status"])]

    def __str__(self):
        return f"{self.rule}: {self.occurrence_key} ({self.status})"


class ScanState(models.Model):
    """Where the time-based scan got to: the next scan looks back to here (catch-up)."""

    name = models.CharField(max_length=50, unique=True)
    scanned_until = models.DateTimeField()

    def __str__(self):
        # In UTC, said so: a name must not depend on who reads it (see Session.__str__).
        return f"{self.name}: {self.scanned_until.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC"
