from django import forms
from django.core.exceptions import ValidationError

from scheduling.models import MAX_DURATION_MINUTES, Session
from scheduling.services import validate_no_clash, validate_start


class SessionForm(forms.ModelForm):
    """Admin form: refuses a double-booking with an error naming the clashing session."""

    class Meta:
        model = Session
        fields = ("client", "trainer", "starts_at", "duration_minutes", "location", "status", "notes")

    def clean(self):
        cleaned = super().clean()
        trainer, client = cleaned.get("trainer"), cleaned.get("client")
        starts_at, duration = cleaned.get("starts_at"), cleaned.get("duration_minutes")
        status = cleaned.get("status", getattr(self.instance, "status", Session.Status.SCHEDULED))
        if starts_at:
            try:
                validate_start(starts_at)
            except ValidationError as exc:
                self.add_error(None, exc)
                starts_at = None
        # An out-of-range duration is reported by the model's validators; there
        # is no slot to check for clashes.
        if duration and not 1 <= duration <= MAX_DURATION_MINUTES:
            duration = None
        if trainer and client and starts_at and duration and status == Session.Status.SCHEDULED:
            try:
                validate_no_clash(
                    trainer=trainer,
                    client=client,
                    starts_at=starts_at,
                    duration_minutes=duration,
                    exclude_pk=self.instance.pk,
                )
            except ValidationError as exc:
                raise ValidationError(exc.messages) from exc
        return cleaned


class WeeklySeriesForm(forms.Form):
    client = forms.ModelChoiceField(queryset=None)
    trainer = forms.ModelChoiceField(queryset=None)
    first_starts_at = forms.SplitDateTimeField(
        label="First session",
        widget=forms.SplitDateTimeWidget(date_attrs={"type": "date"}, time_attrs={"type": "time"}),
    )
    occurrences = forms.IntegerField(
        min_value=1, max_value=104, initial=8, help_text="Number of weekly sessions."
    )
    duration_minutes = forms.IntegerField(min_value=1, max_value=720, initial=60)
    location = forms.CharField(max_length=200, required=False)

    def __init__(self, *args, clients, trainers, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["client"].queryset = clients
        self.fields["trainer"].queryset = trainers
