from datetime import timedelta

from django import forms
from django.conf import settings
from django.utils import timezone

from clients.models import Category, Channel
from messaging.delivery import quiet_hours_resume_at

# The order the compose form offers channels in.
CHANNEL_ORDER = (Channel.IN_APP, Channel.SMS, Channel.EMAIL)
BODY_MAX_LENGTH = 5000


class ChannelSelect(forms.RadioSelect):
    """Radio buttons where a channel the client cannot receive is disabled, with the reason."""

    def __init__(self, *args, reasons=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.reasons = reasons or {}

    def create_option(self, name, value, label, selected, index, subindex=None, attrs=None):
        reason = self.reasons.get(value)
        if reason:
            label = f"{label} — not available: {reason}"
        option = super().create_option(name, value, label, selected, index, subindex, attrs)
        if reason:
            option["attrs"]["disabled"] = True
        return option


class ComposeForm(forms.Form):
    channel = forms.ChoiceField(choices=[(c.value, c.label) for c in CHANNEL_ORDER])
    subject = forms.CharField(max_length=200, required=False, help_text="Email only.")
    body = forms.CharField(
        max_length=BODY_MAX_LENGTH, widget=forms.Textarea(attrs={"rows": 5}), label="Message"
    )
    add_portal_link = forms.BooleanField(
        required=False,
        label="Add a link to the client's portal",
        help_text="Their messages, sessions (confirm or cancel), payments and contact preferences.",
    )
    send_at = forms.DateTimeField(
        required=False,
        label="Send later",
        help_text="Leave empty to send now. Your time zone.",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )
    #: The answer to the quiet-hours warning: wait for their end, or send now (urgent).
    quiet_hours = forms.ChoiceField(
        required=False,
        choices=[("", "ask"), ("wait", "wait"), ("urgent", "urgent")],
        widget=forms.HiddenInput,
    )

    def __init__(self, *args, client, **kwargs):
        self.client = client
        self.reasons = {
            channel.value: client.cannot_receive_reason(channel, Category.TRANSACTIONAL)
            for channel in CHANNEL_ORDER
        }
        available = [value for value, reason in self.reasons.items() if not reason]
        kwargs.setdefault("initial", {}).setdefault("channel", available[0] if available else None)
        super().__init__(*args, **kwargs)
        self.fields["channel"].widget = ChannelSelect(
            choices=self.fields["channel"].choices, reasons=self.reasons
        )

    def clean_channel(self):
        channel = self.cleaned_data["channel"]
        # The disabled radio is only a hint; the browser can be made to send anything.
        reason = self.reasons.get(channel)
        if reason:
            raise forms.ValidationError(
                f"{self.client.first_name} cannot receive {Channel(channel).label}: {reason}.",
                code="cannot_receive",
            )
        return channel

    def clean_send_at(self):
        send_at = self.cleaned_data.get("send_at")
        if send_at is None:
            return None
        now = timezone.now()
        if send_at <= now:
            raise forms.ValidationError("That time has passed: leave it empty to send now.", code="past")
        if send_at > now + timedelta(days=366):
            raise forms.ValidationError("Schedule at most a year ahead.", code="too_far")
        return send_at

    def quiet_hours_end(self):
        """When the SMS would go out inside the client's quiet hours: the moment they end."""
        if self.cleaned_data.get("channel") != Channel.SMS:
            return None
        return quiet_hours_resume_at(self.cleaned_data.get("send_at") or timezone.now(), self.client.tzinfo)

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("channel") == Channel.EMAIL and not cleaned.get("subject"):
            cleaned["subject"] = f"A message from {settings.STUDIO_NAME}"
        if "channel" in cleaned and not cleaned.get("quiet_hours"):
            resume = self.quiet_hours_end()
            if resume is not None:
                # Not an error: a question the page answers with two buttons.
                self.quiet_hours_resume = resume
                raise forms.ValidationError(
                    "It is inside %(name)s's quiet hours.",
                    code="quiet_hours",
                    params={"name": self.client.first_name},
                )
        return cleaned
