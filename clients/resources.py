"""CSV import and export of clients (django-import-export), scoped to the trainer.

A trainer exports only their own clients, and every row they import is their
own client: the ``trainer`` column is ignored for them, and an ``id`` that is not
one of theirs is an error, never an update of someone else's client. A studio
manager may name the trainer by username. Rows without an ``id`` update the
trainer's client with the same email, so re-importing an edited export does not
duplicate anyone.

**Exported cells are never formulas.** django-import-export's own escaping
(``IMPORT_EXPORT_ESCAPE_FORMULAE_ON_EXPORT``, 4.4) only strips a leading ``=``: it
misses ``+``, ``-``, ``@``, tab and carriage return, which spreadsheets also run, and
it changes the text. So the resource prefixes any such cell with an apostrophe
(the usual spreadsheet mark for "text") and the import takes it off again, so an
edited export round-trips unchanged.

**An import costs a fixed number of queries, not some per row.** Before the rows,
one pass over the file loads everything they refer to: the staff users named, the
tags (missing ones created), the clients to update by id and by trainer and email
with their trainer and tags, and who already holds each email (the
one-email-per-trainer rule is checked against that instead of one query per row).
Rows are then validated one by one like the admin form, and saved in bulk
(``use_bulk``): clients, their tags and the contact-preference audit rows, a batch
of 1,000 at a time.
"""

import copy
import functools
import re

from diff_match_patch import diff_match_patch
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import transaction
from django.db.models import Prefetch
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.encoding import force_str
from django.utils.safestring import mark_safe
from import_export import fields, resources, widgets
from import_export.results import RowResult

from clients.admin_scoping import staff_users
from clients.models import Client, ConsentChange, Tag
from clients.roles import is_manager
from clients.services import PREFERENCE_FIELDS, preference_changes, record_preference_changes_in_bulk
from common.ids import parse_pk

#: A cell starting with one of these is run as a formula by some spreadsheet: the
#: OWASP list (= + - @ tab CR), line feed, and the full-width forms some read as well.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r", "\n", "\uff1d", "\uff0b", "\uff0d", "\uff20")
_PLAIN_NUMBER = re.compile(r"[+-]?[0-9]+(?:\.[0-9]+)?")
#: Ids or emails per lookup query (SQLite allows a few thousand parameters at most).
LOOKUP_CHUNK = 2000


def _looks_escaped(value: str) -> bool:
    return value.startswith("'") and value.lstrip("'").startswith(FORMULA_PREFIXES)


def escape_formula(value):
    """The cell as text a spreadsheet shows and never runs; plain numbers (+447911123456) stay.

    Text that already starts with apostrophes before such a character gets one more,
    so that :func:`unescape_formula` gives back exactly what was stored.
    """
    if isinstance(value, str) and (
        (value.startswith(FORMULA_PREFIXES) and not _PLAIN_NUMBER.fullmatch(value)) or _looks_escaped(value)
    ):
        return "'" + value
    return value


def unescape_formula(value):
    """What :func:`escape_formula` wrote, back as it was (the apostrophe a spreadsheet
    user types to mark a formula as text is taken off too)."""
    if isinstance(value, str) and _looks_escaped(value):
        return value[1:]
    return value


def _cell(value):
    """A cell as the rows use it: NUL characters dropped (PostgreSQL cannot store them,
    as the query strings of every request lose them), a formula's escape taken off."""
    if isinstance(value, str) and "\x00" in value:
        value = value.replace("\x00", "")
    return unescape_formula(value)


def _email_key(value) -> str:
    return str(value or "").strip().lower()


def _chunks(values):
    values = list(values)
    for start in range(0, len(values), LOOKUP_CHUNK):
        yield values[start : start + LOOKUP_CHUNK]


class TagList(list):
    """Tags as a list that answers ``.all()`` like the related manager it stands in for."""

    def all(self):
        return self


class StaffUsernameWidget(widgets.ForeignKeyWidget):
    def __init__(self):
        super().__init__(model=None, field="username")
        #: username -> user, loaded once per import by the resource.
        self.known = None

    def get_queryset(self, value, row, *args, **kwargs):
        return staff_users()

    def clean(self, value, row=None, **kwargs):
        value = (value or "").strip()
        if not value:
            return None
        if self.known is not None:
            user = self.known.get(value)
        else:
            user = staff_users().filter(username=value).first()
        if user is None:
            raise ValueError(f"No staff user with username “{value}”.")
        return user

    def render(self, value, obj=None, **kwargs):
        return value.username if value else ""


class PhoneWidget(widgets.CharWidget):
    """Renders each number once per import.

    ``str()`` of a phone number validates it first, which is slow, and the preview
    renders every row's number twice (before and after). A number is parsed from its
    ``raw_input`` with the field's region, so the same input always renders the same.
    """

    def __init__(self):
        super().__init__()
        self.rendered = {}

    def render(self, value, obj=None, **kwargs):
        raw = getattr(value, "raw_input", None)
        if not raw:
            return super().render(value, obj, **kwargs)
        if raw not in self.rendered:
            self.rendered[raw] = super().render(value, obj, **kwargs)
        return self.rendered[raw]


class EmailWidget(widgets.CharWidget):
    """Stored as the admin stores it: stripped and lowercase."""

    def clean(self, value, row=None, **kwargs):
        return _email_key(value)


class TagNamesWidget(widgets.ManyToManyWidget):
    """Tags by name, comma-separated; unknown names become new tags."""

    def __init__(self):
        super().__init__(model=Tag, separator=",", field="name")
        #: name -> Tag, loaded (and the missing ones created) once per import.
        self.known = None

    def names(self, value) -> list:
        return sorted({n.strip()[:50] for n in str(value or "").split(self.separator) if n.strip()})

    def clean(self, value, row=None, **kwargs):
        known = self.known or {}
        return TagList(
            known[name] if name in known else Tag.objects.get_or_create(name=name)[0]
            for name in self.names(value)
        )

    def render(self, value, obj=None, **kwargs):
        if isinstance(value, TagList):
            return self.separator.join(tag.name for tag in value)
        return super().render(value, obj, **kwargs)


class TagsField(fields.Field):
    """During an import a client's tags are the list the import holds (``csv_tags``).

    The preview's diff and the unchanged-row check read them from there, without a
    query, and see the file's tags before they are written in bulk.
    """

    def get_value(self, instance):
        tags = instance.__dict__.get("csv_tags")
        return tags if tags is not None else super().get_value(instance)


class ClientResource(resources.ModelResource):
    email = fields.Field(attribute="email", column_name="email", widget=EmailWidget())
    phone = fields.Field(attribute="phone", column_name="phone", widget=PhoneWidget())
    trainer = fields.Field(attribute="trainer", column_name="trainer", widget=StaffUsernameWidget())
    tags = TagsField(attribute="tags", column_name="tags", widget=TagNamesWidget(), m2m_add=False)

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
        use_bulk = True
        batch_size = 1000
        # The library's diff deep-copies every client (trainer and tags included) and
        # renders every field twice, on the confirmation too; the resource keeps a
        # shallow copy and renders the diff for the preview only (see _row_start).
        skip_diff = True
        widgets = {"birth_date": {"format": "%Y-%m-%d"}}

    def __init__(self, user=None, **kwargs):
        super().__init__(**kwargs)
        self.user = user
        self._detail = ""
        #: pk -> client: every client a row may update, loaded before the rows.
        self._clients = {}
        #: (trainer id, lowercase email) -> the client holding it: a pk, or a new
        #: client not inserted yet. Kept current as rows are imported.
        self._holders = {}
        #: id(client) -> the key it holds in ``_holders``.
        self._held = {}
        #: id(client) -> its contact preferences as last saved.
        self._saved_preferences = {}
        #: Written after the clients are, in bulk: id(client) -> client whose tags
        #: changed, and (client, changes) for the preference audit.
        self._tag_writes = {}
        self._preference_writes = []
        #: (using_transactions, dry_run) of the row being imported.
        self._bulk_flags = (True, False)

    @functools.cached_property
    def manager(self) -> bool:
        return self.user is None or is_manager(self.user)

    def _scoped(self, qs):
        return qs if self.manager else qs.filter(trainer=self.user)

    def get_queryset(self):
        return self._scoped(Client.objects.select_related("trainer").prefetch_related("tags"))

    def get_import_fields(self):
        # Asked for several times per row; the answer never changes.
        if "_import_fields" not in self.__dict__:
            self._import_fields = super().get_import_fields()
        return self._import_fields

    # --- Export ---------------------------------------------------------------------------

    def export_field(self, field, instance, **kwargs):
        return escape_formula(super().export_field(field, instance, **kwargs))

    # --- Lookups, once per file -----------------------------------------------------------

    def before_import(self, dataset, **kwargs):
        self._detail = f"CSV import {kwargs.get('file_name') or ''}".strip()
        headers = dataset.headers or []

        def column(name):
            return [_cell(v) for v in dataset[name]] if name in headers else []

        trainer_widget = self.fields["trainer"].widget
        trainer_widget.known = {}
        usernames = {str(v or "").strip() for v in column("trainer")} - {""}
        if self.manager:
            for chunk in _chunks(usernames):
                trainer_widget.known.update((u.username, u) for u in staff_users().filter(username__in=chunk))

        tag_widget = self.fields["tags"].widget
        names = {name for value in column("tags") for name in tag_widget.names(value)}
        tag_widget.known = self._tags(names)

        ids = {pk for pk in map(parse_pk, column("id")) if pk is not None}
        self._load_clients(ids)
        emails = {_email_key(v) for v in column("email")} | {
            _email_key(c.email) for c in self._clients.values()
        }
        emails.discard("")
        holders = Client.objects.annotate(email_key=Lower("email"))
        if not self.manager:
            holders = holders.filter(trainer=self.user)
        for chunk in _chunks(emails):
            for pk, trainer_id, email in holders.filter(email_key__in=chunk).values_list(
                "pk", "trainer_id", "email_key"
            ):
                self._holders[(trainer_id, email)] = pk
        self._load_clients({pk for pk in self._holders.values() if pk not in self._clients})

    @staticmethod
    def _tags(names) -> dict:
        known = {}
        for chunk in _chunks(names):
            known.update((t.name, t) for t in Tag.objects.filter(name__in=chunk))
        missing = [Tag(name=name) for name in names if name not in known]
        if missing:
            Tag.objects.bulk_create(missing, ignore_conflicts=True)
            for chunk in _chunks(t.name for t in missing):
                known.update((t.name, t) for t in Tag.objects.filter(name__in=chunk))
        return known

    def _load_clients(self, pks):
        qs = self._scoped(
            Client.objects.select_related("trainer").prefetch_related(
                Prefetch("tags", queryset=Tag.objects.order_by("name"), to_attr="loaded_tags")
            )
        )
        for chunk in _chunks(pks):
            for client in qs.filter(pk__in=chunk):
                client.csv_tags = TagList(client.__dict__.pop("loaded_tags"))
                self._clients[client.pk] = client
                self._saved_preferences[id(client)] = self._preferences(client)
                if client.email:
                    self._held[id(client)] = (client.trainer_id, client.email.lower())

    @staticmethod
    def _preferences(client) -> dict:
        return {name: getattr(client, name) for name in PREFERENCE_FIELDS.values()}

    # --- Rows -------------------------------------------------------------------------------

    def before_import_row(self, row, **kwargs):
        for key, value in row.items():
            row[key] = _cell(value)
        self._bulk_flags = (kwargs.get("using_transactions"), kwargs.get("dry_run"))

    def get_instance(self, instance_loader, row):
        raw_id = str(row.get("id") or "").strip()
        if raw_id:
            pk = parse_pk(raw_id)
            if pk is None:
                raise ValidationError({"id": f"“{raw_id}” is not a client number."})
            instance = self._clients.get(pk)
            if instance is None:
                who = "the studio" if self.manager else "your clients"
                raise ValidationError(
                    {
                        "id": f"There is no client #{raw_id} among {who}. Leave the id empty to add a new client."
                    }
                )
            return instance
        email = _email_key(row.get("email"))
        if email:
            trainer = self.user if not self.manager else self._row_trainer(row)
            if trainer is not None:
                holder = self._holders.get((trainer.pk, email))
                if isinstance(holder, Client):
                    if holder.pk is None:
                        # Added by an earlier row of this file: insert it now, update it next.
                        self._insert_pending()
                    return holder
                return self._clients.get(holder)
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
        if new:
            instance.csv_tags = TagList()
        # The row's starting point, for the unchanged-row check and the preview.
        self._row = (instance, copy.copy(instance), new)

    def skip_row(self, instance, original, row, import_validation_errors=None):
        """Unchanged rows are skipped, as the library's ``skip_unchanged`` does."""
        if import_validation_errors:
            return False
        _, start, _ = self._row
        for field in self.get_import_fields():
            if field is self.fields["tags"]:
                if field.column_name in row and field.widget.names(row[field.column_name]) != [
                    t.name for t in start.csv_tags
                ]:
                    return False
            elif field.get_value(instance) != field.get_value(start):
                return False
        return True

    def after_import_row(self, row, row_result, **kwargs):
        if kwargs.get("dry_run") and row_result.import_type in (
            RowResult.IMPORT_TYPE_NEW,
            RowResult.IMPORT_TYPE_UPDATE,
            RowResult.IMPORT_TYPE_SKIP,
        ):
            instance, start, new = self._row
            row_result.diff = [
                _diff_html(field.export(start), field.export(instance), new)
                for field in self.get_import_fields()
            ]

    def validate_instance(self, instance, import_validation_errors=None, validate_unique=True):
        errors = dict(import_validation_errors or {})
        if instance.trainer_id is None and "trainer" not in errors:
            errors["trainer"] = [ValidationError("Name the client's trainer (a staff username).")]
        try:
            # Two checks that would cost a query per row are made without one: the
            # trainer exists (it is the importing trainer, or a staff user loaded by
            # username), and the one database constraint, one email per trainer, is
            # checked below against the holders loaded for the whole file.
            instance.full_clean(
                exclude={*errors, "trainer"}, validate_unique=validate_unique, validate_constraints=False
            )
        except ValidationError as e:
            errors = e.update_error_dict(errors)
        if not errors.keys() & {"email", "trainer"} and self._email_taken(instance):
            errors.setdefault(NON_FIELD_ERRORS, []).append(ValidationError(_email_constraint_message()))
        if errors:
            raise ValidationError(errors)

    def _email_taken(self, instance) -> bool:
        if not instance.email:
            return False
        holder = self._holders.get((instance.trainer_id, instance.email.lower()))
        if holder is None or holder is instance:
            return False
        return not (isinstance(holder, int) and holder == instance.pk)

    def before_save_instance(self, instance, row, **kwargs):
        if instance.pk is not None:
            instance.updated_at = timezone.now()  # bulk updates skip auto_now
        changes = preference_changes(instance, before=self._saved_preferences.get(id(instance)))
        self._saved_preferences[id(instance)] = self._preferences(instance)
        if changes:
            self._preference_writes.append((instance, changes))
        old_key = self._held.pop(id(instance), None)
        if old_key is not None and self._holds(old_key, instance):
            del self._holders[old_key]
        if instance.email:
            key = (instance.trainer_id, instance.email.lower())
            self._holders[key] = instance.pk if instance.pk is not None else instance
            self._held[id(instance)] = key

    def _holds(self, key, instance) -> bool:
        holder = self._holders.get(key)
        return holder is instance or (holder is not None and holder == instance.pk)

    def save_m2m(self, instance, row, **kwargs):
        # use_bulk: the library leaves many-to-many fields alone; tags are
        # written in bulk with the clients (see _write_related).
        field = self.fields["tags"]
        if field.column_name not in row:
            return
        tags = field.clean(row)
        if {t.pk for t in tags} != {t.pk for t in instance.csv_tags}:
            instance.csv_tags = tags
            self._tag_writes[id(instance)] = instance

    # --- Bulk writes --------------------------------------------------------------------------

    def get_bulk_update_fields(self):
        concrete = {f.name for f in Client._meta.concrete_fields}
        names = [self.fields[name].attribute for name in super().get_bulk_update_fields()]
        return [name for name in names if name in concrete] + ["updated_at"]

    def bulk_create(self, using_transactions, dry_run, raise_errors, batch_size=None, result=None):
        self._bulk_write(
            self.create_instances, using_transactions, dry_run, raise_errors, result, create=True
        )

    def bulk_update(self, using_transactions, dry_run, raise_errors, batch_size=None, result=None):
        self._bulk_write(
            self.update_instances, using_transactions, dry_run, raise_errors, result, create=False
        )

    def _bulk_write(self, instances, using_transactions, dry_run, raise_errors, result, *, create):
        if not instances or not (using_transactions or not dry_run):
            instances.clear()
            return
        batch, instances[:] = list(instances), []
        try:
            # A savepoint, so that a failed batch (a client added by someone else
            # since the lookups, say) is reported and leaves a usable transaction.
            with transaction.atomic(using=self.get_db_connection_name()):
                if create:
                    Client.objects.bulk_create(batch, batch_size=self._meta.batch_size)
                else:
                    self._update(batch)
                self._write_related()
        except Exception as e:
            self.handle_import_error(result, e, raise_errors)

    def _update(self, batch):
        """Write the changed clients: one INSERT ... ON CONFLICT (id) DO UPDATE per batch.

        Django's ``bulk_update`` builds a CASE WHEN per field and row; for 1,000
        clients that took seconds in Python alone. The upsert is a plain multi-row
        insert; every client in it exists (it was loaded by id in this transaction),
        so each row takes the update branch. ``created_at`` is left as stored.
        """
        # A client named by two rows of the batch is one object, holding the last
        # row's values; PostgreSQL refuses to upsert one id twice in one statement.
        batch = list({c.pk: c for c in batch}.values())
        created = [c.created_at for c in batch]
        Client.objects.bulk_create(
            batch,
            batch_size=self._meta.batch_size,
            update_conflicts=True,
            unique_fields=["id"],
            update_fields=self.get_bulk_update_fields(),
        )
        for client, created_at in zip(batch, created, strict=True):
            client.created_at = created_at

    def _insert_pending(self):
        using_transactions, dry_run = self._bulk_flags
        batch, self.create_instances[:] = list(self.create_instances), []
        if batch and (using_transactions or not dry_run):
            with transaction.atomic(using=self.get_db_connection_name()):
                Client.objects.bulk_create(batch)
                self._write_related()

    def _write_related(self):
        """Tags and preference audit rows of the clients saved so far (they have a pk now)."""
        saved = [c for c in self._tag_writes.values() if c.pk is not None]
        if saved:
            Through = Client.tags.through
            Through.objects.filter(client_id__in=[c.pk for c in saved]).delete()
            Through.objects.bulk_create(
                [Through(client_id=c.pk, tag_id=t.pk) for c in saved for t in c.csv_tags],
                batch_size=self._meta.batch_size,
            )
            for client in saved:
                del self._tag_writes[id(client)]
        ready = [(c, changes) for c, changes in self._preference_writes if c.pk is not None]
        if ready:
            record_preference_changes_in_bulk(ready, source=ConsentChange.Source.IMPORT, detail=self._detail)
            self._preference_writes = [(c, ch) for c, ch in self._preference_writes if c.pk is None]


def _html_text(text: str) -> str:
    # As diff_match_patch's diff_prettyHtml writes text.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\n", "&para;<br>")


def _diff_html(before, after, new: bool):
    """One cell of the preview, as the library's ``Diff.as_html`` renders it."""
    before, after = force_str(before), force_str(after)
    if before == after:
        return mark_safe(f"<span>{_html_text(after)}</span>" if after else "")
    if new:
        before = ""
    dmp = diff_match_patch()
    diff = dmp.diff_main(before, after)
    dmp.diff_cleanupSemantic(diff)
    return mark_safe(dmp.diff_prettyHtml(diff))


def _email_constraint_message() -> str:
    [constraint] = [c for c in Client._meta.constraints if c.name == "client_email_unique_per_trainer"]
    return constraint.get_violation_error_message()
