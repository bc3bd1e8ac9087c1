"""Admin for what clients can book: session types and each trainer's availability."""

from django.contrib import admin
from django.db.models import Q

from clients.admin_scoping import TrainerScopedAdmin
from clients.roles import is_manager
from scheduling.models import Availability, DateOverride, SessionType, WorkingHours


@admin.register(SessionType)
class SessionTypeAdmin(TrainerScopedAdmin):
    list_display = (
        "name",
        "duration_minutes",
        "location",
        "price",
        "client_bookable",
        "offered_by",
        "is_active",
    )
    list_filter = ("client_bookable", "is_active", "trainer")
    search_fields = ("name",)

    @admin.display(description="Offered by", ordering="trainer")
    def offered_by(self, obj):
        return obj.trainer or "Whole studio"

    def get_queryset(self, request):
        qs = admin.ModelAdmin.get_queryset(self, request).select_related("trainer")
        if is_manager(request.user):
            return qs
        # A trainer sees the studio-wide types she offers too, but cannot change them.
        return qs.filter(Q(trainer=request.user) | Q(trainer__isnull=True))

    def has_change_permission(self, request, obj=None):
        if obj is not None and obj.trainer_id is None and not is_manager(request.user):
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        if obj is not None and obj.trainer_id is None and not is_manager(request.user):
            return False
        return super().has_delete_permission(request, obj)

    def get_changeform_initial_data(self, request):
        initial = super().get_changeform_initial_data(request)
        if not is_manager(request.user):
            initial.setdefault("trainer", request.user.pk)
        return initial

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if db_field.name == "trainer" and not is_manager(request.user):
            # Only managers create studio-wide types.
            field.required = True
        return field


class WorkingHoursInline(admin.TabularInline):
    model = WorkingHours
    extra = 0


class DateOverrideInline(admin.TabularInline):
    model = DateOverride
    extra = 0
    fields = ("date", "start_time", "end_time", "note")


@admin.register(Availability)
class AvailabilityAdmin(TrainerScopedAdmin):
    list_display = (
        "trainer",
        "minimum_notice_hours",
        "horizon_days",
        "buffer_before_minutes",
        "buffer_after_minutes",
        "max_sessions_per_day",
    )
    list_select_related = ("trainer",)
    inlines = (WorkingHoursInline, DateOverrideInline)
    fieldsets = (
        (
            None,
            {"fields": ("trainer",), "description": "Times are on the trainer's own clock (her time zone)."},
        ),
        (
            "Booking rules",
            {
                "fields": (
                    ("buffer_before_minutes", "buffer_after_minutes"),
                    "minimum_notice_hours",
                    "horizon_days",
                    "max_sessions_per_day",
                    "slot_interval_minutes",
                )
            },
        ),
    )
