from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone

from clients.admin_scoping import TrainerScopedAdmin, run_service_action, staff_users
from clients.roles import is_manager
from clients.selectors import visible_clients
from common.timefmt import DATETIME, same_clock, staff_datetime
from scheduling import services
from scheduling.forms import SessionForm, WeeklySeriesForm
from scheduling.models import Session


@admin.register(Session)
class SessionAdmin(TrainerScopedAdmin):
    form = SessionForm
    trainer_lookup = "client__trainer"
    list_display = (
        "when",
        "client",
        "trainer",
        "duration_minutes",
        "location",
        "status",
        "confirmed_at",
    )
    list_filter = ("status", "trainer", "starts_at")
    list_select_related = ("client", "trainer")
    search_fields = ("client__first_name", "client__last_name", "client__email", "location")
    date_hierarchy = "starts_at"
    autocomplete_fields = ("client",)
    ordering = ("-starts_at",)
    actions = ("mark_completed", "mark_no_show", "cancel_sessions")
    readonly_fields = (
        "clients_clock",
        "series",
        "confirmed_at",
        "cancelled_at",
        "cancelled_by",
        "created_at",
        "updated_at",
    )

    @admin.display(description="Starts", ordering="starts_at")
    def when(self, obj):
        return staff_datetime(obj.starts_at, obj.client.tzinfo)

    @admin.display(description="Client's time")
    def clients_clock(self, obj):
        if obj is None or not obj.pk:
            return "-"
        tz = obj.client.tzinfo
        local = obj.starts_at.astimezone(tz)
        if same_clock(obj.starts_at, tz, timezone.get_current_timezone()):
            return f"The same as yours ({tz.key})."
        return f"{local:{DATETIME}} {local:%Z} ({tz.key}); messages to the client use this time."

    def get_queryset(self, request):
        # str(session) names the client: autocomplete results need it. The
        # changelist skips list_select_related once a queryset has any
        # select_related, so the list's columns are joined here too.
        return super().get_queryset(request).select_related(*self.list_select_related)

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if obj is not None:
            # Status changes go through the actions, which check the transition.
            fields.append("status")
        return fields

    def get_changeform_initial_data(self, request):
        initial = super().get_changeform_initial_data(request)
        initial.setdefault("trainer", request.user.pk)
        return initial

    def save_model(self, request, obj, form, change):
        services.session_save(session=obj, allow_past=form.cleaned_data.get("confirm_past", False))

    @admin.action(description="Mark selected sessions completed", permissions=["change"])
    def mark_completed(self, request, queryset):
        run_service_action(
            self,
            request,
            queryset,
            services.session_mark_completed,
            argument="session",
            done="marked completed",
        )

    @admin.action(description="Mark selected sessions no-show", permissions=["change"])
    def mark_no_show(self, request, queryset):
        run_service_action(
            self, request, queryset, services.session_mark_no_show, argument="session", done="marked no-show"
        )

    @admin.action(description="Cancel selected sessions", permissions=["change"])
    def cancel_sessions(self, request, queryset):
        run_service_action(
            self, request, queryset, services.session_cancel, argument="session", done="cancelled"
        )

    # --- Weekly series -------------------------------------------------------------
    def get_urls(self):
        custom = [
            path(
                "book-series/",
                self.admin_site.admin_view(self.book_series_view),
                name="scheduling_session_book_series",
            )
        ]
        return custom + super().get_urls()

    def book_series_view(self, request):
        if not self.has_add_permission(request):
            return redirect("admin:index")
        manager = is_manager(request.user)
        clients = visible_clients(request.user)
        trainers = staff_users() if manager else staff_users().filter(pk=request.user.pk)
        form = WeeklySeriesForm(
            request.POST or None, clients=clients, trainers=trainers, initial={"trainer": request.user.pk}
        )
        result = None
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                result = services.session_book_weekly_series(
                    trainer=data["trainer"],
                    client=data["client"],
                    first_starts_at=data["first_starts_at"],
                    occurrences=data["occurrences"],
                    duration_minutes=data["duration_minutes"],
                    location=data["location"],
                    allow_past=data["confirm_past"],
                )
            except ValidationError as exc:
                form.add_error(None, exc.messages)
        if result is not None:
            level = messages.WARNING if result.clashes else messages.SUCCESS
            self.message_user(
                request,
                f"Booked {len(result.booked)} of {data['occurrences']} weekly sessions; "
                f"{len(result.clashes)} clashed and were not booked.",
                level,
            )
        context = {
            **self.admin_site.each_context(request),
            "title": "Book a weekly series",
            "opts": self.model._meta,
            "form": form,
            "result": result,
            "client_tz": data["client"].tzinfo if result is not None else None,
            "changelist_url": reverse("admin:scheduling_session_changelist"),
        }
        return TemplateResponse(request, "admin/scheduling/session/book_series.html", context)
