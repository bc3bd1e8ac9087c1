from datetime import UTC

from django.conf import settings
from django.db import models

from clients.models import Category, Channel, Client
from common.models import TimeStampedModel


class Message(TimeStampedModel):
    """One message to (or from) one client: the outbox row is also the queue entry."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        DELIVERED = "delivered", "Delivered"
        READ = "read", "Read"
        FAILED = "failed", "Failed"
        SUPPRESSED = "suppressed", "Suppressed"
        CANCELLED = "cancelled", "Cancelled"
        RECEIVED = "received", "Received"

    class Direction(models.TextChoices):
        OUTBOUND = "out", "To the client"
        INBOUND = "in", "From the client"

    client = models.ForeignKey(
        Client, null=True, blank=True, on_delete=models.CASCADE, related_name="messages"
    )
    channel = models.CharField(max_length=10, choices=Channel.choices)
    category = models.CharField(max_length=15, choices=Category.choices, default=Category.TRANSACTIONAL)
    direction = models.CharField(max_length=3, choices=Direction.choices, default=Direction.OUTBOUND)
    subject = models.CharField(max_length=200, blank=True)
    body = models.TextField()
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.QUEUED)
    error = models.TextField(blank=True)
    provider_id = models.CharField(max_length=100, blank=True, db_index=True)
    to_address = models.CharField(max_length=254, blank=True, help_text="Email or E.164 number used.")
    from_address = models.CharField(max_length=254, blank=True)
    #: Files sent with an email, fixed when it is queued like its body:
    #: ``[{"filename": ..., "content_type": ..., "content": <text>}]`` (a session's .ics).
    attachments = models.JSONField(default=list, blank=True, editable=False)

    # Delivery bookkeeping.
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    not_after = models.DateTimeField(
        null=True, blank=True, help_text="Suppress instead of sending after this moment (e.g. session start)."
    )
    sent_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    read_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)

    # What caused it. ``rule`` is the one key to a higher layer (automation), kept so the
    # per-rule statistics and filters read it in one join; see README, "Layout".
    rule = models.ForeignKey(
        "automation.AutomationRule", null=True, blank=True, on_delete=models.SET_NULL, related_name="messages"
    )
    session = models.ForeignKey(
        "scheduling.Session", null=True, blank=True, on_delete=models.SET_NULL, related_name="messages"
    )
    payment = models.ForeignKey(
        "billing.Payment", null=True, blank=True, on_delete=models.SET_NULL, related_name="messages"
    )
    campaign = models.ForeignKey(
        "campaigns.Campaign", null=True, blank=True, on_delete=models.CASCADE, related_name="messages"
    )
    sent_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    #: Staff chose "send now — urgent" inside the client's quiet hours: the engine
    #: does not defer it. Who and when stay on the row (transactional messages only).
    quiet_hours_overridden_at = models.DateTimeField(null=True, blank=True)
    quiet_hours_overridden_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="message_due_idx"),
            models.Index(fields=["client", "created_at"], name="message_thread_idx"),
            # The marketing-email throttle counts claims in the last minute.
            models.Index(
                fields=["claimed_at"],
                condition=models.Q(channel="email", category="marketing"),
                name="message_mkt_email_claim_idx",
            ),
            models.Index(fields=["status", "claimed_at"], name="message_sending_idx"),
            # The dashboard's delivery rate per channel and week, read from the index alone (PostgreSQL).
            models.Index(
                fields=["created_at"],
                include=["direction", "status", "channel", "client_id"],
                name="message_rate_idx",
            ),
            # Unread messages from clients: the header badge and the dashboard count them on every page.
            models.Index(
                fields=["client"],
                condition=models.Q(direction="in", read_at__isnull=True),
                name="message_unread_idx",
            ),
        ]
        constraints = [
            # Planning a campaign twice, or two planners at once, never doubles a recipient.
            models.UniqueConstraint(
                fields=["campaign", "client"],
                condition=models.Q(campaign__isnull=False, client__isnull=False),
                name="message_once_per_campaign_client",
            ),
            # A provider retrying its inbound webhook (even while the first call is
            # still running) never stores the client's message twice.
            models.UniqueConstraint(
                fields=["channel", "provider_id"],
                condition=models.Q(direction="in") & ~models.Q(provider_id=""),
                name="message_inbound_once",
            ),
        ]

    def __str__(self):
        return f"{self.get_channel_display()} to {self.client or self.to_address}: {self.subject or self.body[:40]}"


class ClientActivity(models.Model):
    """Something a client did (or that happened to reaching them) that their trainer should hear.

    Shown in the client's inbox thread between the messages and counted as unread
    until staff read the thread; the trainer may also be emailed about it
    (``messaging.activity``). Replies are messages already and are not doubled here.
    """

    class Kind(models.TextChoices):
        CONFIRMED = "confirmed", "Confirmed a session"
        CANCELLED = "cancelled", "Cancelled a session"
        LATE_CANCEL_REFUSED = "late_cancel_refused", "Tried to cancel too late"
        BOOKED = "booked", "Booked a session online"
        RESCHEDULED = "rescheduled", "Moved a session online"
        SMS_OPTED_OUT = "sms_opted_out", "Opted out of SMS"
        SMS_OPTED_IN = "sms_opted_in", "Opted back in to SMS"
        EMAIL_UNSUBSCRIBED = "email_unsubscribed", "Unsubscribed from email"
        MESSAGE_FAILED = "message_failed", "A message could not be delivered"
        WAITLIST_JOINED = "waitlist_joined", "Asked to hear when a time opens up"

    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="activities")
    kind = models.CharField(max_length=30, choices=Kind.choices)
    detail = models.TextField(blank=True, help_text="The client's reason, the provider's error...")
    session = models.ForeignKey(
        "scheduling.Session", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    message = models.ForeignKey(Message, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(db_index=True)
    read_at = models.DateTimeField(null=True, blank=True)
    #: When the trainer was emailed about it on its own (her "an email per event" choice).
    notified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = "client activity"
        verbose_name_plural = "client activity"
        indexes = [models.Index(fields=["client", "created_at"], name="activity_thread_idx")]

    def __str__(self):
        return f"{self.client}: {self.get_kind_display()}"

    #: The inbox thread interleaves these with messages.
    is_activity = True


class MessageEvent(models.Model):
    """Status history of a message, and the ledger of provider events already applied."""

    class Source(models.TextChoices):
        WORKER = "worker", "Delivery worker"
        TWILIO = "twilio", "Twilio callback"
        ESP = "esp", "Email provider"
        STAFF = "staff", "Staff"
        SYSTEM = "system", "System"

    message = models.ForeignKey(
        Message, null=True, blank=True, on_delete=models.CASCADE, related_name="events"
    )
    status = models.CharField(max_length=20)
    source = models.CharField(max_length=10, choices=Source.choices)
    detail = models.TextField(blank=True)
    #: Provider's own id of the event; a provider retrying its webhook sends it again.
    event_id = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["source", "event_id"], condition=~models.Q(event_id=""), name="message_event_once"
            ),
        ]

    def __str__(self):
        return f"{self.status} ({self.get_source_display()})"


class WorkerHeartbeat(models.Model):
    """A delivery worker checks in here at the start of every run; ``/healthz/`` reads it.

    One row per kind of work (``delivery``), whichever host or process wrote it last.
    """

    name = models.CharField(max_length=50, unique=True)
    beat_at = models.DateTimeField()
    worker = models.CharField(max_length=200, blank=True, help_text="host:pid of the last check-in.")

    def __str__(self):
        return f"{self.name}: {self.beat_at.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC ({self.worker})"


class SavedReply(TimeStampedModel):
    """A reply staff insert in the inbox's compose box: a trainer's own, or studio-wide.

    The body is a template in the rules' language with the client's variables, rendered
    for the thread's client when inserted (``messaging.saved_replies``).
    """

    title = models.CharField(max_length=80)
    body = models.TextField(max_length=1600)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="saved_replies",
        help_text="Blank: the whole studio's (a manager's to write).",
    )

    class Meta:
        ordering = ["title"]
        verbose_name_plural = "saved replies"

    def __str__(self):
        return self.title

    def clean(self):
        # Imported here: templating imports models (a cycle at import time).
        from messaging.saved_replies import validate_body

        validate_body(self.body)


class SlotOffer(TimeStampedModel):
    """A freed time offered to one waiting client (``scheduling.WaitlistRequest``).

    One row per request and start time, whatever re-runs or later cancellations
    of the same time happen: the unique constraint is the once-only guard, and the
    row and its message are written in one transaction. Whoever books first gets
    the time (through the portal's ordinary race-safe booking); the offer is open
    until the slot starts or a session takes it, however it was booked.
    """

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        BOOKED = "booked", "Booked by this client"
        TAKEN = "taken", "Taken by someone else"

    request = models.ForeignKey("scheduling.WaitlistRequest", on_delete=models.CASCADE, related_name="offers")
    #: The cancelled or moved session that freed the time (for staff; another client's session).
    freed_session = models.ForeignKey(
        "scheduling.Session", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    session_type = models.ForeignKey("scheduling.SessionType", on_delete=models.CASCADE, related_name="+")
    starts_at = models.DateTimeField()
    duration_minutes = models.PositiveIntegerField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    message = models.OneToOneField(
        Message, null=True, blank=True, on_delete=models.SET_NULL, related_name="slot_offer"
    )
    booked_session = models.ForeignKey(
        "scheduling.Session", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    booked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = "slot offer"
        constraints = [
            models.UniqueConstraint(
                fields=["request", "starts_at"], name="slot_offer_once_per_request_and_time"
            ),
        ]
        indexes = [models.Index(fields=["starts_at", "status"])]

    def __str__(self):
        return f"Offer #{self.pk} ({self.starts_at:%Y-%m-%d %H:%M} UTC)"


DEFAULT_RECEIPT_SUBJECT = "Receipt {{ receipt_number }} from {{ studio_name }}"
DEFAULT_RECEIPT_BODY = """Hello {{ first_name }},

Thank you for your payment. This is your receipt.

Receipt number: {{ receipt_number }}
Date received: {{ receipt_date }}
Client: {{ full_name }}
For: {{ payment_description|default:"Training" }}
Amount received: {{ receipt_amount }}
Method: {{ receipt_method }}{% if receipt_reference %}
Reference: {{ receipt_reference }}{% endif %}

{% if balance_owed %}Received so far: {{ paid_to_date }} of {{ amount }}; still to pay: {{ balance_owed }}.{% else %}Paid in full: {{ amount }}.{% endif %}

{{ studio_name }}"""


class ReceiptTemplate(models.Model):
    """The studio's receipt email (one row, pk 1): its wording and whether it goes by itself.

    Written in the rules' template language with the client's, the payment's and the
    receipt's variables (``messaging.receipts``); checked when saved.
    """

    send_automatically = models.BooleanField(
        "email receipts automatically",
        default=False,
        help_text="Email the client a receipt whenever money is recorded (by staff, a pay link or a "
        "script). Off: staff send them with the Email receipt action.",
    )
    subject_template = models.CharField("subject", max_length=200, default=DEFAULT_RECEIPT_SUBJECT)
    body_template = models.TextField("body", default=DEFAULT_RECEIPT_BODY)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "receipt email"
        verbose_name_plural = "receipt email"

    def __str__(self):
        return "Receipt email"

    def clean(self):
        # Imported here: receipts imports models (a cycle at import time).
        from messaging.receipts import validate_receipt_templates

        validate_receipt_templates(subject=self.subject_template, body=self.body_template)
