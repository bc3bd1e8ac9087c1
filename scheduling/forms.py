from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone

from common.timefmt import staff_datetime
from scheduling.models import MAX_DURATION_MINUTES, Session
from scheduling.services import validate_no_clash, validate_start

PAST_LABEL = "Yes, it was in the past"


class SessionForm(forms.ModelForm):
    """Admin form: refuses a double-booking with an error naming the clashing session.

    A booking (or a move) into the past asks once more: the form comes back with
    a "Yes, it was in the past" box, shown only then.
    """

    confirm_past = forms.BooleanField(
        label=PAST_LABEL,
        required=False,
        widget=forms.HiddenInput,
        help_text="Tick to record a session that has already taken place.",
    )

    class Meta:
        model = Session
        fields = ("client", "trainer", "starts_at", "duration_minutes", "location", "status", "notes")

    def _check_past(self, starts_at):
        moved = self.instance.pk is None or starts_at != self.instance.starts_at
        if not moved or self.cleaned_data.get("confirm_past") or starts_at >= timezone.now():
            return
        self.fields["confirm_past"].widget = forms.CheckboxInput()
        self.add_error(
            "confirm_past",
            f"{staff_datetime(starts_at)} is in the past. Tick “{PAST_LABEL}” and save again to record it.",
        )

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
        if starts_at:
            self._check_past(starts_at)
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
    confirm_past = forms.BooleanField(
        label=PAST_LABEL,
        required=False,
        help_text="Only to record sessions that have already taken place.",
    )

    def __init__(self, *args, clients, trainers, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["client"].queryset = clients
        self.fields["trainer"].queryset = trainers


WEEKDAYS = [("", "Keep the day")] + [
    (str(i), name)
    for i, name in enumerate(["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"])
]


class SeriesMoveForm(forms.Form):
    new_time = forms.TimeField(
        label="New time of day",
        required=False,
        widget=forms.TimeInput(attrs={"type": "time"}),
        help_text="On the trainer's clock. Leave empty to keep each session's time.",
    )
    weekday = forms.TypedChoiceField(
        label="New weekday",
        choices=WEEKDAYS,
        required=False,
        coerce=int,
        empty_value=None,
        help_text="Each session moves to this day of its own week.",
    )

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("new_time") is None and cleaned.get("weekday") is None and not self.errors:
            raise ValidationError("Choose a new time of day, a new weekday, or both.")
        return cleaned
