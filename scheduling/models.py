import secrets
import uuid
from datetime import timedelta

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.html import escape

from clients.models import Channel, Client
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

    class BookedBy(models.TextChoices):
        STAFF = "staff", "Staff"
        CLIENT = "client", "Client (online)"

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
    # db_default too: the benchmarks insert sessions with plain SQL.
    booked_by = models.CharField(
        max_length=10, choices=BookedBy.choices, default=BookedBy.STAFF, db_default=BookedBy.STAFF
    )
    session_type = models.ForeignKey(
        "SessionType", on_delete=models.SET_NULL, null=True, blank=True, related_name="sessions"
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


class SessionType(TimeStampedModel):
    """What a client can book: a name, a length, a place, and who offers it.

    A type without a trainer is studio-wide: every trainer offers it.
    """

    name = models.CharField(max_length=100)
    duration_minutes = models.PositiveIntegerField(
        default=60,
        validators=[
            MinValueValidator(5, "A session type lasts at least five minutes."),
            MaxValueValidator(MAX_DURATION_MINUTES, "A session lasts at most 12 hours."),
        ],
    )
    location = models.CharField("default location", max_length=200, blank=True)
    price = models.DecimalField(max_digits=8, decimal_places=2, null=True, blank=True)
    client_bookable = models.BooleanField(
        "clients may book it", default=True, help_text="Shown on the portal's booking page."
    )
    trainer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="session_types",
        help_text="Blank: offered by every trainer of the studio.",
    )
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(duration_minutes__gte=5, duration_minutes__lte=MAX_DURATION_MINUTES),
                name="session_type_duration_range",
            ),
        ]

    def __str__(self):
        return f"{self.name} ({self.duration_minutes} min)"


class Availability(TimeStampedModel):
    """A trainer's booking rules; the hours themselves are WorkingHours and DateOverride rows.

    Times of day are on the trainer's own clock (her StaffProfile zone, else the studio's).
    """

    trainer = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="availability"
    )
    buffer_before_minutes = models.PositiveIntegerField(
        default=0, validators=[MaxValueValidator(240)], help_text="Kept free before each session."
    )
    buffer_after_minutes = models.PositiveIntegerField(
        default=0, validators=[MaxValueValidator(240)], help_text="Kept free after each session."
    )
    minimum_notice_hours = models.PositiveIntegerField(
        default=12, validators=[MaxValueValidator(24 * 30)], help_text="No booking closer to now than this."
    )
    horizon_days = models.PositiveIntegerField(
        "booking horizon (days)",
        default=56,
        validators=[MinValueValidator(1), MaxValueValidator(366)],
        help_text="How far ahead clients may book.",
    )
    max_sessions_per_day = models.PositiveIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1)], help_text="Blank: no limit."
    )
    slot_interval_minutes = models.PositiveIntegerField(
        default=30,
        validators=[MinValueValidator(5), MaxValueValidator(240)],
        help_text="Offered start times are this far apart.",
    )

    class Meta:
        verbose_name_plural = "availabilities"

    def __str__(self):
        return f"Availability of {self.trainer}"


class WorkingHours(models.Model):
    class Weekday(models.IntegerChoices):
        MONDAY = 0, "Monday"
        TUESDAY = 1, "Tuesday"
        WEDNESDAY = 2, "Wednesday"
        THURSDAY = 3, "Thursday"
        FRIDAY = 4, "Friday"
        SATURDAY = 5, "Saturday"
        SUNDAY = 6, "Sunday"

    availability = models.ForeignKey(Availability, on_delete=models.CASCADE, related_name="weekly_hours")
    weekday = models.PositiveSmallIntegerField(choices=Weekday.choices)
    start_time = models.TimeField()
    end_time = models.TimeField()

    class Meta:
        verbose_name_plural = "weekly working hours"
        ordering = ["weekday", "start_time"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(start_time__lt=models.F("end_time")), name="working_hours_start_before_end"
            ),
        ]

    def __str__(self):
        return f"{self.get_weekday_display()} {self.start_time:%H:%M}–{self.end_time:%H:%M}"


class DateOverride(models.Model):
    """One date's exception: a day off (no times) or these hours instead of the weekly ones.

    Several rows for one date give several ranges; any row with no times makes the day off.
    """

    availability = models.ForeignKey(Availability, on_delete=models.CASCADE, related_name="overrides")
    date = models.DateField()
    start_time = models.TimeField(null=True, blank=True)
    end_time = models.TimeField(null=True, blank=True)
    note = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["date", "start_time"]
        indexes = [models.Index(fields=["availability", "date"])]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(start_time__isnull=True, end_time__isnull=True)
                | models.Q(start_time__lt=models.F("end_time")),
                name="date_override_day_off_or_range",
            ),
        ]

    def __str__(self):
        if self.is_day_off:
            return f"{self.date}: day off"
        return f"{self.date}: {self.start_time:%H:%M}–{self.end_time:%H:%M}"

    @property
    def is_day_off(self) -> bool:
        return self.start_time is None


class WaitlistRequest(TimeStampedModel):
    """A client asking to be told when a time opens up with their trainer ("notify me").

    The window is a range of the client's own calendar days; the session type is
    optional (blank: any type the client may book). When one of the trainer's
    sessions is cancelled or moved, the messaging app offers the freed time to each
    waiting request it suits (``messaging.waitlist``). A client has at most one
    waiting request: asking again replaces it. It ends when the client books a
    session in the window — from an offer or any other way (``booked_session``).
    """

    class Status(models.TextChoices):
        WAITING = "waiting", "Waiting"
        BOOKED = "booked", "Booked a session"
        WITHDRAWN = "withdrawn", "Withdrawn"

    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="waitlist_requests")
    trainer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="waitlist_requests"
    )
    # CASCADE, not SET_NULL: a request for a type that is gone must not turn into "any type".
    session_type = models.ForeignKey(
        SessionType,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="waitlist_requests",
        help_text="Blank: any type the client may book.",
    )
    from_date = models.DateField(help_text="First day of the window (the client's calendar).")
    until_date = models.DateField(help_text="Last day of the window (the client's calendar).")
    # A freed time is worth something for hours at most: SMS or email, never only in-app.
    channel = models.CharField(
        max_length=10,
        choices=[(Channel.SMS.value, Channel.SMS.label), (Channel.EMAIL.value, Channel.EMAIL.label)],
        help_text="How the client asked to be told.",
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.WAITING)
    ended_at = models.DateTimeField(null=True, blank=True, help_text="When it was booked or withdrawn.")
    booked_session = models.ForeignKey(
        Session, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = "waitlist request"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(from_date__lte=models.F("until_date")), name="waitlist_window_in_order"
            ),
            # One waiting request per client: a freed time is offered to a client once.
            models.UniqueConstraint(
                fields=["client"],
                condition=models.Q(status="waiting"),
                name="waitlist_one_waiting_per_client",
            ),
        ]
        indexes = [models.Index(fields=["trainer", "status", "until_date"])]

    def __str__(self):
        return f"{self.client}: {self.from_date:%d %b}–{self.until_date:%d %b %Y}"
