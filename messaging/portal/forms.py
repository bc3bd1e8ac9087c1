from datetime import timedelta

from django import forms

from clients.models import Category, Channel
from clients.services import PREFERENCE_FIELDS
from messaging.portal.services import REPLY_MAX_LENGTH


class ReplyForm(forms.Form):
    body = forms.CharField(
        label="Your message",
        max_length=REPLY_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


def preference_field_name(channel: str, category: str) -> str:
    return f"{channel}_{category}"


class PreferencesForm(forms.Form):
    """One checkbox per channel and category the client can turn on or off."""

    def __init__(self, *args, client, preferences, **kwargs):
        super().__init__(*args, **kwargs)
        self.client = client
        for channel, category in PREFERENCE_FIELDS:
            label = f"{Channel(channel).label}: {Category(category).label.lower()}"
            self.fields[preference_field_name(channel, category)] = forms.BooleanField(
                label=label, required=False, initial=preferences[(channel, category)]
            )

    def wanted(self) -> dict[tuple[str, str], bool]:
        return {
            (channel, category): self.cleaned_data[preference_field_name(channel, category)]
            for channel, category in PREFERENCE_FIELDS
        }


class WaitlistForm(forms.Form):
    """ "Tell me when a time opens up": a window of the client's days, a type, a channel."""

    from_date = forms.DateField(
        label="From", widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )
    until_date = forms.DateField(
        label="Until (included)", widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )
    session_type = forms.ModelChoiceField(
        queryset=None, required=False, empty_label="Any session", label="Session"
    )
    channel = forms.ChoiceField(label="Tell me by", widget=forms.RadioSelect)

    def __init__(self, *args, client, types, channels, today, last_day, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["session_type"].queryset = types
        self.fields["session_type"].label_from_instance = lambda t: f"{t.name} · {t.duration_minutes} min"
        addresses = {
            Channel.SMS: f"Text message to {client.phone}",
            Channel.EMAIL: f"Email to {client.email}",
        }
        self.fields["channel"].choices = [(c, addresses[c]) for c in channels]
        if channels:
            self.fields["channel"].initial = channels[0]
        self.fields["from_date"].initial = today
        self.fields["until_date"].initial = min(today + timedelta(days=6), last_day) if last_day else today
        for name in ("from_date", "until_date"):
            self.fields[name].widget.attrs.update(min=today.isoformat())
            if last_day:
                self.fields[name].widget.attrs.update(max=last_day.isoformat())

    def wanted(self) -> dict:
        data = self.cleaned_data
        return {
            "from_date": data["from_date"],
            "until_date": data["until_date"],
            "channel": data["channel"],
            "session_type_id": data["session_type"].pk if data["session_type"] else None,
        }
