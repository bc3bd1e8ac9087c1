"""Trainer scoping for the admin: a trainer sees only their own book.

Every scoped ModelAdmin filters its queryset through ``trainer_lookup``; the
admin's change, delete, history and autocomplete views all start from that
queryset, so an object outside it answers "not found", never the page.
"""

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.http import HttpResponseBadRequest

from clients.roles import is_manager


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

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        manager = is_manager(request.user)
        if db_field.name == "trainer":
            kwargs["queryset"] = staff_users() if manager else staff_users().filter(pk=request.user.pk)
        elif not manager and db_field.name == "client":
            kwargs["queryset"] = db_field.remote_field.model.objects.filter(trainer=request.user)
        elif not manager and db_field.name == "session":
            kwargs["queryset"] = db_field.remote_field.model.objects.filter(client__trainer=request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_search_results(self, request, queryset, search_term):
        # PostgreSQL refuses NUL characters in text parameters: that would be a
        # 500 from the search box or an autocomplete instead of "no results".
        return super().get_search_results(request, queryset, search_term.replace("\x00", ""))

    def changelist_view(self, request, extra_context=None):
        if any("\x00" in key + "".join(values) for key, values in request.GET.lists()):
            return HttpResponseBadRequest("The address contains a NUL character.")
        return super().changelist_view(request, extra_context)

    def get_list_filter(self, request):
        filters = list(super().get_list_filter(request))
        if not is_manager(request.user):
            # A trainer filtering by trainer only ever sees themselves.
            filters = [f for f in filters if f not in ("trainer", self.trainer_lookup)]
        return filters
