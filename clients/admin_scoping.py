"""Trainer scoping for the admin: a trainer sees only their own book.

Every scoped ModelAdmin filters its queryset through ``trainer_lookup``; the
admin's change, delete, history and autocomplete views all start from that
queryset, so an object outside it answers "not found", never the page.
"""

from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.db import models
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.html import format_html

from clients.admin_widgets import (
    RangeCheckedModelMultipleChoiceField,
    TolerantAutocompleteSelect,
    TolerantAutocompleteSelectMultiple,
)
from clients.roles import is_manager
from clients.selectors import visible_clients


def staff_users():
    return get_user_model().objects.filter(is_staff=True, is_active=True).order_by("first_name", "username")


class TrainerScopedAdmin(admin.ModelAdmin):
    #: Lookup from this model to the trainer who owns the row.
    trainer_lookup = "trainer"

    def get_queryset(self, request):
        qs = super().get_queryset(request)
        if is_manager(request.user):
            return qs
        return qs.filter(**{self.trainer_lookup: request.user})

    def get_changeform_initial_data(self, request):
        initial = super().get_changeform_initial_data(request)
        # Initial values come straight from the query string (?starts_at=...);
        # a date-time the split widget cannot read would crash the add page.
        for name, value in list(initial.items()):
            try:
                field = self.model._meta.get_field(name)
            except FieldDoesNotExist:
                continue
            if isinstance(field, models.DateTimeField) and isinstance(value, str):
                try:
                    parsed = parse_datetime(value.strip())
                except ValueError:
                    parsed = None
                if parsed is None:
                    del initial[name]
                else:
                    initial[name] = parsed if timezone.is_aware(parsed) else timezone.make_aware(parsed)
        return initial

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if "widget" not in kwargs and db_field.name in self.get_autocomplete_fields(request):
            kwargs["widget"] = TolerantAutocompleteSelect(
                db_field, self.admin_site, using=kwargs.get("using")
            )
        manager = is_manager(request.user)
        if db_field.name == "trainer":
            kwargs["queryset"] = staff_users() if manager else staff_users().filter(pk=request.user.pk)
        elif not manager and db_field.name == "client":
            kwargs["queryset"] = visible_clients(request.user)
        elif not manager and db_field.name == "session":
            kwargs["queryset"] = db_field.remote_field.model.objects.filter(client__trainer=request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        kwargs.setdefault("form_class", RangeCheckedModelMultipleChoiceField)
        if "widget" not in kwargs and db_field.name in self.get_autocomplete_fields(request):
            kwargs["widget"] = TolerantAutocompleteSelectMultiple(
                db_field, self.admin_site, using=kwargs.get("using")
            )
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def get_list_filter(self, request):
        filters = list(super().get_list_filter(request))
        if not is_manager(request.user):
            # A trainer filtering by trainer only ever sees themselves.
            filters = [f for f in filters if f not in ("trainer", self.trainer_lookup)]
        return filters


def run_service_action(modeladmin, request, queryset, service, *, argument: str, done: str) -> None:
    """Apply a status-changing service to each selected row.

    A refused transition is reported for that row and the others still change,
    so one cancelled payment in a selection does not block marking the rest paid.
    """
    changed, refused = 0, []
    for obj in queryset.select_related("client"):
        try:
            service(**{argument: obj})
        except ValidationError as exc:
            # format_html: a session names its time in the viewer's zone (Session.__html__).
            refused.append(format_html("{}: {}", obj, " ".join(exc.messages)))
        else:
            changed += 1
    if changed:
        noun = modeladmin.model._meta.verbose_name
        modeladmin.message_user(request, f"{changed} {noun}(s) {done}.", messages.SUCCESS)
    for line in refused:
        modeladmin.message_user(request, line, messages.ERROR)
