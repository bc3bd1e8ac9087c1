"""CSV import and export of clients (django-import-export), scoped to the trainer.

A trainer exports only their own clients, and every row they import is their
own client: the ``trainer`` column is ignored for them, and an ``id`` that is not
one of theirs is an error, never an update of someone else's client. A studio
manager may name the trainer by username. Rows without an ``id`` update the
trainer's client with the same email, so re-importing an edited export does not
duplicate anyone.
"""

from django.core.exceptions import ValidationError
from import_export import fields, resources, widgets

from clients.admin_scoping import staff_users
from clients.models import Client, ConsentChange, Tag
from clients.roles import is_manager
from clients.services import preference_changes, record_preference_changes


class StaffUsernameWidget(widgets.ForeignKeyWidget):
    def __init__(self):
        super().__init__(model=None, field="username")

    def get_queryset(self, value, row, *args, **kwargs):
        return staff_users()

    def clean(self, value, row=None, **kwargs):
        value = (value or "").strip()
        if not value:
            return None
        try:
            return staff_users().get(username=value)
        except staff_users().model.DoesNotExist:
            raise ValueError(f"No staff user with username “{value}”.") from None

    def render(self, value, obj=None, **kwargs):
        return value.username if value else ""


class EmailWidget(widgets.CharWidget):
    """Stored as the admin stores it: stripped and lowercase."""

    def clean(self, value, row=None, **kwargs):
        return str(value or "").strip().lower()


class TagNamesWidget(widgets.ManyToManyWidget):
    """Tags by name, comma-separated; unknown names become new tags."""

    def __init__(self):
        super().__init__(model=Tag, separator=",", field="name")

    def clean(self, value, row=None, **kwargs):
        names = {n.strip()[:50] for n in str(value or "").split(self.separator) if n.strip()}
        return [Tag.objects.get_or_create(name=name)[0] for name in sorted(names)]


class ClientResource(resources.ModelResource):
    email = fields.Field(attribute="email", column_name="email", widget=EmailWidget())
    trainer = fields.Field(attribute="trainer", column_name="trainer", widget=StaffUsernameWidget())
    tags = fields.Field(attribute="tags", column_name="tags", widget=TagNamesWidget(), m2m_add=False)

    class Meta:
        model = Client
        fields = (
            "id",
            "first_name",
            "last_name",
            "email",
            "phone",
            "birth_date",
            "timezone",
            "status",
            "trainer",
            "tags",
            "notes",
            "email_reminders",
            "email_marketing",
            "sms_reminders",
            "sms_marketing",
        )
        import_id_fields = ("id",)
        clean_model_instances = True
        use_transactions = True
        skip_unchanged = True
        report_skipped = True
        widgets = {"birth_date": {"format": "%Y-%m-%d"}}

    def __init__(self, user=None, **kwargs):
        super().__init__(**kwargs)
        self.user = user
        self._changes = {}

    @property
    def manager(self) -> bool:
        return self.user is None or is_manager(self.user)

    def get_queryset(self):
        qs = Client.objects.select_related("trainer").prefetch_related("tags")
        return qs if self.manager else qs.filter(trainer=self.user)

    def get_instance(self, instance_loader, row):
        raw_id = str(row.get("id") or "").strip()
        if raw_id:
            if not raw_id.isdigit():
                raise ValidationError({"id": f"“{raw_id}” is not a client number."})
            instance = self.get_queryset().filter(pk=int(raw_id)).first()
            if instance is None:
                who = "the studio" if self.manager else "your clients"
                raise ValidationError(
                    {
                        "id": f"There is no client #{raw_id} among {who}. Leave the id empty to add a new client."
                    }
                )
            return instance
        email = str(row.get("email") or "").strip()
        if email:
            trainer = self.user if not self.manager else self._row_trainer(row)
            if trainer is not None:
                return self.get_queryset().filter(trainer=trainer, email__iexact=email).first()
        return None

    def _row_trainer(self, row):
        try:
            return self.fields["trainer"].widget.clean(row.get("trainer"))
        except ValueError:
            return None

    def import_field(self, field, instance, row, is_m2m=False, **kwargs):
        if field.attribute == "id":
            return  # ids identify rows; they are never written
        if field.attribute == "trainer" and not self.manager:
            return  # a trainer's clients are their own
        super().import_field(field, instance, row, is_m2m=is_m2m, **kwargs)

    def after_init_instance(self, instance, new, row, **kwargs):
        if not self.manager:
            instance.trainer = self.user

    def validate_instance(self, instance, import_validation_errors=None, validate_unique=True):
        errors = dict(import_validation_errors or {})
        if instance.trainer_id is None and "trainer" not in errors:
            errors["trainer"] = [ValidationError("Name the client's trainer (a staff username).")]
        super().validate_instance(instance, errors, validate_unique=validate_unique)

    def before_save_instance(self, instance, row, **kwargs):
        self._changes[id(instance)] = preference_changes(instance)

    def after_save_instance(self, instance, row, **kwargs):
        record_preference_changes(
            client=instance,
            changes=self._changes.pop(id(instance), []),
            source=ConsentChange.Source.IMPORT,
            detail=f"CSV import {kwargs.get('file_name') or ''}".strip(),
        )
