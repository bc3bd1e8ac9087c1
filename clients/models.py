import secrets
import zoneinfo
from dataclasses import dataclass

from django.conf import settings
from django.db import models
from django.db.models.functions import ExtractDay, ExtractMonth, Lower
from phonenumber_field.modelfields import PhoneNumberField

from clients.validators import known_timezones, validate_birth_date, validate_timezone
from common.clock import studio_tz
from common.models import TimeStampedModel


class Channel(models.TextChoices):
    EMAIL = "email", "Email"
    SMS = "sms", "SMS"
    IN_APP = "in_app", "In-app"


class Category(models.TextChoices):
    TRANSACTIONAL = "transactional", "Reminders and notices"
    MARKETING = "marketing", "News and offers"


def new_portal_secret() -> str:
    return secrets.token_urlsafe(16)


class Tag(models.Model):
    name = models.CharField(max_length=50, unique=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


@dataclass(frozen=True)
class _ConsentRules:
    address: str  # the field that must be filled in
    no_address: str
    stops: tuple  # (field, reason): set, nothing goes out on this channel
    consent: dict  # is marketing -> (preference field, reason when it is off)


# What may stop a message, per channel, in the order staff are told about it.
_CONSENT_RULES = {
    Channel.EMAIL: _ConsentRules(
        address="email",
        no_address="no email address",
        stops=(
            ("email_suppressed_at", "email address suppressed ({client.email_suppressed_reason_or_bounced})"),
            ("email_unsubscribed_at", "unsubscribed from email"),
        ),
        consent={
            True: ("email_marketing", "no consent to marketing email"),
            False: ("email_reminders", "turned off email reminders"),
        },
    ),
    Channel.SMS: _ConsentRules(
        address="phone",
        no_address="no mobile number",
        stops=(("sms_opted_out_at", "opted out of SMS (STOP)"),),
        consent={
            True: ("sms_marketing", "no consent to marketing SMS"),
            False: ("sms_reminders", "turned off SMS reminders"),
        },
    ),
}


class Client(TimeStampedModel):
    class Status(models.TextChoices):
        LEAD = "lead", "Lead"
        ACTIVE = "active", "Active"
        INACTIVE = "inactive", "Inactive"

    first_name = models.CharField(max_length=100)
    last_name = models.CharField(max_length=100, blank=True)
    email = models.EmailField(blank=True)
    phone = PhoneNumberField(blank=True, help_text="Any common format; stored as E.164 (+447911123456).")
    birth_date = models.DateField(null=True, blank=True, validators=[validate_birth_date])
    timezone = models.CharField(
        max_length=64,
        blank=True,
        validators=[validate_timezone],
        help_text="IANA time zone, e.g. America/New_York. Blank means the studio's.",
    )
    trainer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="clients")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    notes = models.TextField(blank=True)
    self_booking = models.BooleanField(
        "may book online",
        default=True,
        db_default=True,  # the benchmarks insert clients with plain SQL
        help_text="Book sessions from the portal (when the studio allows online booking).",
    )
    tags = models.ManyToManyField(Tag, blank=True, related_name="clients")

    # Contact preferences. Opt-outs (STOP, unsubscribe) stop everything on the
    # channel; marketing additionally needs an explicit opt-in.
    email_reminders = models.BooleanField("email reminders", default=True)
    email_marketing = models.BooleanField("email news and offers", default=False)
    sms_reminders = models.BooleanField("SMS reminders", default=True)
    sms_marketing = models.BooleanField("SMS news and offers", default=False)
    email_unsubscribed_at = models.DateTimeField(null=True, blank=True)
    sms_opted_out_at = models.DateTimeField(
        null=True, blank=True, help_text="Set when the client texts STOP."
    )
    email_suppressed_at = models.DateTimeField(null=True, blank=True)
    email_suppressed_reason = models.CharField(
        max_length=200, blank=True, help_text="Hard bounce or spam complaint."
    )

    # Rotating this secret revokes every portal link sent so far.
    portal_secret = models.CharField(max_length=32, default=new_portal_secret, editable=False)

    class Meta:
        ordering = ["last_name", "first_name"]
        constraints = [
            models.UniqueConstraint(
                "trainer",
                Lower("email"),
                condition=~models.Q(email=""),
                name="client_email_unique_per_trainer",
                violation_error_message="This trainer already has a client with this email.",
            ),
        ]
        indexes = [
            models.Index(fields=["trainer", "status"]),
            # Birthdays by month and day: the automation scan and the dashboard's forecast.
            models.Index(ExtractMonth("birth_date"), ExtractDay("birth_date"), name="client_birthday_idx"),
        ]

    def __str__(self):
        return self.full_name

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    @property
    def tzinfo(self) -> zoneinfo.ZoneInfo:
        # An invalid name can only be an unsaved entry the form is about to
        # refuse; the page showing that error must not crash on it.
        if self.timezone in known_timezones():
            return zoneinfo.ZoneInfo(self.timezone)
        return studio_tz()

    def clean(self):
        self.email = self.email.strip().lower()

    @property
    def email_suppressed_reason_or_bounced(self) -> str:
        return self.email_suppressed_reason or "bounced"

    def can_receive(self, channel: str, category: str = Category.TRANSACTIONAL) -> bool:
        """May we send this client this kind of message on this channel now?"""
        return self.cannot_receive_reason(channel, category) is None

    def cannot_receive_reason(self, channel: str, category: str = Category.TRANSACTIONAL):
        """Why not, in words staff understand; ``None`` when sending is allowed."""
        if channel == Channel.IN_APP:
            return None
        if channel not in _CONSENT_RULES:
            return f"unknown channel {channel!r}"
        rules = _CONSENT_RULES[channel]
        if not getattr(self, rules.address):
            return rules.no_address
        for field, reason in rules.stops:
            if getattr(self, field):
                return reason.format(client=self)
        consent, refusal = rules.consent[category == Category.MARKETING]
        return None if getattr(self, consent) else refusal


class StaffProfile(models.Model):
    """What a staff user sets for themselves: the zone their pages show times in, and how
    they hear what their clients do besides the inbox."""

    class Notify(models.TextChoices):
        NOTHING = "nothing", "Nothing (the inbox only)"
        EACH = "each", "An email per event"
        HOURLY = "hourly", "One digest email per hour"

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="staff_profile"
    )
    timezone = models.CharField(
        max_length=64,
        blank=True,
        validators=[validate_timezone],
        help_text="IANA time zone your pages show times in, e.g. America/New_York. Blank means the studio's.",
    )
    notify = models.CharField(
        "tell me what my clients do",
        max_length=10,
        choices=Notify.choices,
        default=Notify.NOTHING,
        help_text="Replies, confirmations, cancellations, opt-outs and failed messages always appear "
        "in your inbox; this adds an email to your own address.",
    )
    #: The hourly digest has told everything up to here (it claims the next window).
    digested_until = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        verbose_name = "staff settings"
        verbose_name_plural = "staff settings"

    def __str__(self):
        return f"Settings of {self.user}"

    @property
    def tzinfo(self) -> zoneinfo.ZoneInfo:
        if self.timezone in known_timezones():
            return zoneinfo.ZoneInfo(self.timezone)
        return studio_tz()


class ConsentChange(models.Model):
    """Audit trail of every contact-preference change: what, when, and how."""

    class Source(models.TextChoices):
        STAFF = "staff", "Staff (admin)"
        PORTAL = "portal", "Client portal"
        UNSUBSCRIBE_LINK = "unsubscribe_link", "Unsubscribe link"
        SMS_KEYWORD = "sms_keyword", "SMS keyword (STOP/START)"
        PROVIDER = "provider", "Provider (bounce, complaint, carrier)"
        IMPORT = "import", "Import"

    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="consent_changes")
    channel = models.CharField(max_length=10, choices=Channel.choices)
    category = models.CharField(max_length=15, choices=Category.choices, blank=True)
    granted = models.BooleanField()
    source = models.CharField(max_length=20, choices=Source.choices)
    detail = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        verb = "granted" if self.granted else "withdrew"
        return f"{self.client} {verb} {self.channel} {self.category or 'all'} ({self.source})"
