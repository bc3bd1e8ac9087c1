import csv
import io

from django import forms
from django.conf import settings
from django.template.defaultfilters import filesizeformat
from import_export.forms import ImportForm

from clients.models import Client, StaffProfile
from clients.selectors import client_email_taken
from clients.validators import known_timezones


class DatalistTextInput(forms.TextInput):
    """A text box that suggests values as you type and still accepts any text."""

    template_name = "clients/widgets/datalist_input.html"

    def __init__(self, options, attrs=None):
        super().__init__(attrs)
        self.options = options

    def get_context(self, name, value, attrs):
        context = super().get_context(name, value, attrs)
        datalist_id = f"{context['widget']['attrs'].get('id') or name}-options"
        context["widget"]["attrs"]["list"] = datalist_id
        context["widget"].update(datalist_id=datalist_id, datalist=self.options)
        return context


class ClientForm(forms.ModelForm):
    """Reports a duplicate email on the email field, whoever the client belongs to.

    The database constraint is per trainer, and a trainer never sees the trainer
    field (their clients are theirs), so Django's own constraint check would skip
    it and the insert would fail with an IntegrityError instead.
    """

    #: The user filling the form in; set by the admin.
    current_user = None

    class Meta:
        model = Client
        fields = (
            "first_name",
            "last_name",
            "status",
            "trainer",
            "tags",
            "notes",
            "email",
            "phone",
            "timezone",
            "birth_date",
            "email_reminders",
            "email_marketing",
            "sms_reminders",
            "sms_marketing",
        )
        widgets = {"timezone": DatalistTextInput(sorted(known_timezones()))}
        help_texts = {"phone": "Any common format; stored as E.164 (+447911123456)."}

    def owner(self):
        if "trainer" in self.fields:
            return self.cleaned_data.get("trainer")
        if self.instance.trainer_id:
            return self.instance.trainer
        return self.current_user

    def clean(self):
        cleaned = super().clean()
        email, owner = cleaned.get("email"), self.owner()
        if email and client_email_taken(trainer=owner, email=email, exclude_pk=self.instance.pk):
            if owner == self.current_user:
                self.add_error("email", "You already have a client with this email.")
            else:
                self.add_error("email", "This trainer already has a client with this email.")
        return cleaned


class StaffSettingsForm(forms.ModelForm):
    class Meta:
        model = StaffProfile
        fields = ("timezone", "notify")
        labels = {"timezone": "My time zone"}
        widgets = {"timezone": DatalistTextInput(sorted(known_timezones()))}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Left out of a post, the choice stays what it was.
        self.fields["notify"].required = False

    def clean_notify(self):
        return self.cleaned_data.get("notify") or self.instance.notify or StaffProfile.Notify.NOTHING


class ClientImportForm(ImportForm):
    """The CSV upload, refused before any row is read when it is too large.

    Both limits are settings (``CLIENT_IMPORT_MAX_BYTES``, ``CLIENT_IMPORT_MAX_ROWS``):
    the preview and the import each hold a request and a database transaction for
    as long as they run.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["import_file"].help_text = (
            f"A CSV file of at most {settings.CLIENT_IMPORT_MAX_ROWS:,} rows and "
            f"{filesizeformat(settings.CLIENT_IMPORT_MAX_BYTES)}."
        )

    def clean_import_file(self):
        upload = self.cleaned_data["import_file"]
        max_bytes, max_rows = settings.CLIENT_IMPORT_MAX_BYTES, settings.CLIENT_IMPORT_MAX_ROWS
        if upload.size > max_bytes:
            raise forms.ValidationError(
                f"This file is {filesizeformat(upload.size)}; the limit is {filesizeformat(max_bytes)}. "
                "Split it into smaller files."
            )
        rows = csv_row_count(b"".join(upload.chunks()))
        upload.seek(0)
        if rows > max_rows:
            raise forms.ValidationError(
                f"This file has {rows:,} rows; the limit is {max_rows:,}. Split it into smaller files."
            )
        return upload


def csv_row_count(data: bytes) -> int:
    """Rows after the header, as the csv module reads them (a quoted line break is not a row)."""
    text = data.decode("utf-8-sig", errors="replace")
    try:
        return max(sum(1 for row in csv.reader(io.StringIO(text, newline="")) if row) - 1, 0)
    except csv.Error:
        # Not a CSV file at all: the import itself says so.
        return 0
