"""Admin building blocks shared by the apps."""

from django.contrib import admin


class ReadOnlyTabularInline(admin.TabularInline):
    """A history or summary table on a change page: every listed field read-only,
    nothing added or deleted from here (each has its own page or service for that)."""

    extra = 0
    can_delete = False

    def get_readonly_fields(self, request, obj=None):
        return self.fields or ()

    def has_add_permission(self, request, obj=None):
        return False
