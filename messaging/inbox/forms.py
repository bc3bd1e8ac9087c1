from django import forms
from django.conf import settings

from clients.models import Category, Channel

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

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("channel") == Channel.EMAIL and not cleaned.get("subject"):
            cleaned["subject"] = f"A message from {settings.STUDIO_NAME}"
        return cleaned
