import secrets
import uuid
from datetime import timedelta

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.html import escape

from clients.models import Client
from common.models import TimeStampedModel
from common.timefmt import staff_datetime, utc_stamp

MAX_DURATION_MINUTES = 12 * 60


class Session(TimeStampedModel):
    class Status(models.TextChoices):
        SCHEDULED = "scheduled", "Scheduled"
        COMPLETED = "completed", "Completed"
        CANCELLED = "cancelled", "Cancelled"
        NO_SHOW = "no_show", "No-show"

    class CancelledBy(models.TextChoices):
        STAFF = "staff", "Staff"
        CLIENT = "client", "Client"

    trainer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="training_sessions"
    )
    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="sessions")
    starts_at = models.DateTimeField()
    duration_minutes = models.PositiveIntegerField(
        default=60,
        validators=[
            MinValueValidator(1, "A session lasts at least one minute."),
            MaxValueValidator(MAX_DURATION_MINUTES, "A session lasts at most 12 hours."),
        ],
    )
    location = models.CharField(max_length=200, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.SCHEDULED)
    notes = models.TextField(blank=True)
    series = models.UUIDField(
        null=True, blank=True, db_index=True, help_text="Shared by the sessions of one weekly series."
    )
    confirmed_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    cancelled_by = models.CharField(max_length=10, choices=CancelledBy.choices, blank=True)
    cancel_reason = models.CharField(
        max_length=500, blank=True, help_text="What the client wrote when cancelling (optional)."
    )
    sequence = models.PositiveIntegerField(
        default=0,
        editable=False,
        help_text="Grows each time the session's time changes: calendars keep the newest version.",
    )

    class Meta:
        ordering = ["-starts_at"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(duration_minutes__gte=1, duration_minutes__lte=MAX_DURATION_MINUTES),
                name="session_duration_positive",
            ),
        ]
        indexes = [
            # The automation scan and the clash check are range queries on starts_at.
            models.Index(fields=["status", "starts_at"]),
            models.Index(fields=["trainer", "starts_at"]),
            models.Index(fields=["client", "starts_at"]),
            # The dashboard's sessions per week by outcome, read from the index alone (PostgreSQL).
            models.Index(
                fields=["status", "starts_at"],
                include=["cancelled_at", "client_id"],
                name="session_outcome_idx",
            ),
        ]

    def __str__(self):
        # In UTC, said so: str() ends up in logs, the admin's stored history and
        # autocomplete, read by people in any zone, so it must not depend on
        # whose request or which worker produced it.
        return f"{self.client} — {utc_stamp(self.starts_at)}"

    def __html__(self):
        # Pages (admin messages, inlines, lists) render objects through
        # conditional_escape, which prefers this: the viewer's zone, named, and
        # the client's clock when it differs.
        client_tz = self.client.tzinfo if self.client_id else None
        return escape(f"{self.client} — {staff_datetime(self.starts_at, client_tz)}")

    @property
    def ends_at(self):
        return self.starts_at + timedelta(minutes=self.duration_minutes)


def new_series_id():
    return uuid.uuid4()


def new_feed_secret() -> str:
    return secrets.token_hex(16)


class CalendarFeed(TimeStampedModel):
    """A trainer's calendar subscription: the secret its link is signed with.

    Rotating the secret revokes every link handed out before.
    """

    trainer = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="calendar_feed"
    )
    secret = models.CharField(max_length=32, default=new_feed_secret)

    def __str__(self):
        return f"Calendar feed of {self.trainer}"
