import datetime as dt
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from campaigns import rendering
from clients.models import Category, Client, Tag
from common.models import TimeStampedModel

MONTHS = [
    (1, "January"),
    (2, "February"),
    (3, "March"),
    (4, "April"),
    (5, "May"),
    (6, "June"),
    (7, "July"),
    (8, "August"),
    (9, "September"),
    (10, "October"),
    (11, "November"),
    (12, "December"),
]

#: Day counts beyond ten years mean nothing for a studio, and far larger ones overflow
#: the date arithmetic (``now - timedelta(days=2**31)``) when the segment is evaluated.
MAX_SEGMENT_DAYS = 3650
_DAYS = [MaxValueValidator(MAX_SEGMENT_DAYS)]
#: "Joined" compares with the clients' creation time; dates at the calendar's ends
#: overflow once moved to UTC.
EARLIEST_JOINED = dt.date(1900, 1, 1)
LATEST_JOINED = dt.date(2999, 12, 31)
_JOINED = [MinValueValidator(EARLIEST_JOINED), MaxValueValidator(LATEST_JOINED)]

#: Tri-state for yes/no conditions: NULL means "either".
YES_NO = [(True, "Yes"), (False, "No")]


class Segment(TimeStampedModel):
    """A saved, reusable selection of clients, evaluated live at send time.

    Every condition is a field; an empty field means "any". The conditions are
    combined with AND (``campaigns.selectors.segment_clients``). A segment owned by
    a trainer only ever matches that trainer's own clients.
    """

    class TagsMatch(models.TextChoices):
        ANY = "any", "Any of the tags"
        ALL = "all", "All of the tags"

    name = models.CharField(max_length=100)
    # PROTECT, not SET_NULL: losing the owner or the trainer would silently widen
    # the segment to the whole studio.
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    status = models.CharField("client status", max_length=10, choices=Client.Status.choices, blank=True)
    trainer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Only clients of this trainer.",
    )
    tags = models.ManyToManyField(Tag, blank=True, related_name="+")
    tags_match = models.CharField(max_length=3, choices=TagsMatch.choices, default=TagsMatch.ANY)
    has_overdue_payment = models.BooleanField(
        null=True,
        blank=True,
        choices=YES_NO,
        help_text="An overdue payment, or a pending one past its due date.",
    )
    no_completed_session_days = models.PositiveIntegerField(
        "no completed session in the last N days",
        null=True,
        blank=True,
        validators=_DAYS,
        help_text="Clients who have not trained for this many days (including those who never did); "
        f"at most {MAX_SEGMENT_DAYS}.",
    )
    session_in_next_days = models.PositiveIntegerField(
        "has a session in the next N days",
        null=True,
        blank=True,
        validators=_DAYS,
        help_text=f"At most {MAX_SEGMENT_DAYS}.",
    )
    owes_more_than = models.DecimalField(
        "owes more than",
        max_digits=10,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0"), "Enter 0 or more (0: owes anything at all).")],
        help_text=f"Clients whose open payments add up to more than this ({settings.CURRENCY}); "
        "0 matches everyone who owes anything.",
    )
    birthday_month = models.PositiveSmallIntegerField(null=True, blank=True, choices=MONTHS)
    joined_after = models.DateField(
        "joined on or after", null=True, blank=True, validators=_JOINED, help_text="Studio calendar date."
    )
    joined_before = models.DateField(
        "joined before", null=True, blank=True, validators=_JOINED, help_text="Studio calendar date."
    )
    has_email = models.BooleanField("has an email address", null=True, blank=True, choices=YES_NO)
    email_marketing = models.BooleanField(
        "consents to marketing email", null=True, blank=True, choices=YES_NO
    )

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    def clean(self):
        if self.joined_after and self.joined_before and self.joined_after >= self.joined_before:
            raise ValidationError(
                {"joined_before": "Must be after “joined on or after”, or no client can match."}
            )


class Campaign(TimeStampedModel):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        SCHEDULED = "scheduled", "Scheduled"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        CANCELLED = "cancelled", "Cancelled"

    #: Statuses in which the content and audience may still change.
    EDITABLE = (Status.DRAFT, Status.SCHEDULED)

    class Kind(models.TextChoices):
        EMAIL = "email", "Marketing email (news and offers)"
        SMS = "sms", "Marketing SMS (news and offers)"
        ANNOUNCEMENT = "announcement", "Announcement (reminders and notices)"

    name = models.CharField(max_length=100)
    kind = models.CharField(
        max_length=12,
        choices=Kind.choices,
        default=Kind.EMAIL,
        help_text="An announcement (“studio closed on 25 December”) needs no marketing consent: it goes "
        "to each client by email, else SMS, else in-app, as their reminder settings allow. Managers only.",
    )
    subject = models.CharField(max_length=200, blank=True, help_text="Email only.")
    body = models.TextField()
    segment = models.ForeignKey(Segment, on_delete=models.PROTECT, related_name="campaigns")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    scheduled_at = models.DateTimeField(
        null=True, blank=True, help_text="Studio time. Leave empty and use “Send now” to send at once."
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    # Bookkeeping written by the planner (``.update()``, never ``save()``).
    planned_at = models.DateTimeField(null=True, blank=True)
    recipients_count = models.PositiveIntegerField(default=0)
    excluded_counts = models.JSONField(
        default=dict, blank=True, help_text="Clients left out at planning time, by reason."
    )
    finished_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True, help_text="Why the last attempt to send did not start.")

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["status", "scheduled_at"], name="campaign_due_idx")]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(status="scheduled") | models.Q(scheduled_at__isnull=False),
                name="campaign_scheduled_has_time",
                violation_error_message="A scheduled campaign needs a time to send.",
            ),
        ]

    def __str__(self):
        return self.name

    def clean(self):
        rendering.validate(subject=self.subject, body=self.body)
        if self.kind == self.Kind.EMAIL and not self.subject.strip():
            raise ValidationError({"subject": "An email needs a subject."})

    @property
    def category(self) -> str:
        return Category.TRANSACTIONAL if self.kind == self.Kind.ANNOUNCEMENT else Category.MARKETING

    @property
    def is_editable(self) -> bool:
        return self.status in self.EDITABLE

    @property
    def excluded_total(self) -> int:
        return sum(self.excluded_counts.values())
