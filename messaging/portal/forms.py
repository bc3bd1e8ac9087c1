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
