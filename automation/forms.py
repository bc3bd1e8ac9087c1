from django import forms
from django.core.exceptions import ValidationError

from automation.models import AutomationRule, TriggerEvent
from automation.templating import CHARGE_EVENTS, SESSION_EVENTS, validate_for_event
from clients.admin_scoping import staff_users
from clients.models import Channel

#: The events about one session, whose rules may ask who booked it.
BOOKED_BY_EVENTS = SESSION_EVENTS | CHARGE_EVENTS
OFFSET_EVENTS = {
    TriggerEvent.SESSION_SCHEDULED,
    TriggerEvent.PAYMENT_DUE,
    TriggerEvent.PAYMENT_OVERDUE,
    TriggerEvent.PACKAGE_EXPIRING,
}


class AutomationRuleForm(forms.ModelForm):
    class Meta:
        model = AutomationRule
        fields = [
            "name",
            "trigger_event",
            "offset_hours",
            "late_booking",
            "merge_minutes",
            "only_booked_by",
            "credits_threshold",
            "channel",
            "category",
            "trainer",
            "subject_template",
            "body_template",
            "is_active",
        ]
        widgets = {"body_template": forms.Textarea(attrs={"rows": 8, "cols": 80})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "trainer" in self.fields:
            self.fields["trainer"].queryset = staff_users()
        if "credits_threshold" in self.fields:
            # Left out (an older form, a script): the default, one credit left.
            self.fields["credits_threshold"].required = False
        if "merge_minutes" in self.fields:
            # Left out (an older form, a script): no merging.
            self.fields["merge_minutes"].required = False
        if "only_booked_by" in self.fields:
            # Only session events know who booked; the change form hides it for the others.
            self.fields["only_booked_by"].widget.attrs["data-session-events"] = ",".join(
                sorted(BOOKED_BY_EVENTS)
            )

    def clean_credits_threshold(self):
        value = self.cleaned_data.get("credits_threshold")
        return 1 if value is None else value

    def clean_merge_minutes(self):
        return self.cleaned_data.get("merge_minutes") or 0

    def clean(self):
        data = super().clean()
        event = data.get("trigger_event")
        if not event:
            return data
        for name in ("subject_template", "body_template"):
            if data.get(name) is None:
                continue
            try:
                validate_for_event(data[name], event)
            except ValidationError as exc:
                self.add_error(name, exc)
        offset = data.get("offset_hours") or 0
        if event not in OFFSET_EVENTS and offset:
            self.add_error("offset_hours", "This event has no offset: leave it at 0.")
        if event == TriggerEvent.SESSION_SCHEDULED and offset < 1:
            self.add_error("offset_hours", "A reminder goes at least 1 hour before the session.")
        if data.get("only_booked_by") and event not in BOOKED_BY_EVENTS:
            self.add_error("only_booked_by", "Only session events know who booked: leave it blank.")
        if event == TriggerEvent.PACKAGE_EXPIRING and offset < 1:
            self.add_error(
                "offset_hours", "Say how long before the package expires, e.g. 168 hours for a week."
            )
        if data.get("channel") == Channel.EMAIL and not (data.get("subject_template") or "").strip():
            self.add_error("subject_template", "An email needs a subject.")
        return data
