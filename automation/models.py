from django.db import models

from clients.models import Channel
from fitcrm.models import TimeStampedModel


class TriggerEvent(models.TextChoices):
    SESSION_CREATED = "session_created", "Session booked"
    SESSION_SCHEDULED = "session_scheduled", "Before a session starts"
    SESSION_CANCELLED = "session_cancelled", "Session cancelled"
    PAYMENT_DUE = "payment_due", "Payment due"
    PAYMENT_OVERDUE = "payment_overdue", "Payment overdue"
    BIRTHDAY = "birthday", "Client's birthday"


class AutomationRule(TimeStampedModel):
    name = models.CharField(max_length=100)
    trigger_event = models.CharField(max_length=20, choices=TriggerEvent.choices)
    channel = models.CharField(max_length=10, choices=Channel.choices)
    subject_template = models.CharField(max_length=200, blank=True)
    body_template = models.TextField()
    offset_hours = models.IntegerField(default=0)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class AutomationLog(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENT = "sent", "Sent"
        SKIPPED = "skipped", "Skipped"
        FAILED = "failed", "Failed"

    rule = models.ForeignKey(AutomationRule, on_delete=models.PROTECT, related_name="logs")
    occurrence_key = models.CharField(max_length=200)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    message = models.ForeignKey(
        "messaging.Message", null=True, blank=True, on_delete=models.SET_NULL, related_name="automation_logs"
    )
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["rule", "occurrence_key"], name="automationlog_once_per_occurrence"
            ),
        ]

    def __str__(self):
        return f"{self.rule}: {self.occurrence_key} ({self.status})"
