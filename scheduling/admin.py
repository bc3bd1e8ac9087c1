from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import Count
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from clients.admin_scoping import TrainerScopedAdmin, run_service_action, staff_users
from clients.roles import is_manager
from clients.selectors import visible_clients
from common.timefmt import DATETIME, same_clock, staff_datetime
from messaging.models import SlotOffer
from scheduling import (
    admin_booking,  # noqa: F401  registers the booking models' admin
    services,
)
from scheduling.forms import SeriesMoveForm, SessionForm, WeeklySeriesForm
from scheduling.models import Session, WaitlistRequest
from scheduling.waitlist import waitlist_staff_withdraw


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
        "status_detail",
        "confirmed_at",
    )
    list_filter = ("status", "booked_by", "trainer", "starts_at")
    list_select_related = ("client", "trainer")
    search_fields = ("client__first_name", "client__last_name", "client__email", "location")
    date_hierarchy = "starts_at"
    autocomplete_fields = ("client",)
    ordering = ("-starts_at",)
    actions = ("mark_completed", "mark_no_show", "cancel_sessions", "cancel_for_client")
    readonly_fields = (
        "clients_clock",
        "series_overview",
        "booked_by",
        "session_type",
        "confirmed_at",
        "cancelled_at",
        "cancelled_by",
        "cancellation",
        "cancel_reason",
        "created_at",
        "updated_at",
    )

    @admin.display(description="Starts", ordering="starts_at")
    def when(self, obj):
        return staff_datetime(obj.starts_at, obj.client.tzinfo)

    @admin.display(description="Status", ordering="status")
    def status_detail(self, obj):
        # "Cancelled by client, Tue 01 Dec 2026 10:02 GMT": who, and when, at a glance.
        return self.cancellation(obj) if obj.status == Session.Status.CANCELLED else obj.get_status_display()

    @admin.display(description="Cancelled")
    def cancellation(self, obj):
        if obj is None or obj.status != Session.Status.CANCELLED:
            return "-"
        text = "Cancelled"
        if obj.cancelled_by:
            text += f" by {obj.get_cancelled_by_display().lower()}"
        if obj.cancelled_at:
            text += f", {staff_datetime(obj.cancelled_at, obj.client.tzinfo)}"
        return text

    @admin.display(description="Weekly series")
    def series_overview(self, obj):
        if obj is None or obj.series is None:
            return "-"
        starts = list(
            Session.objects.filter(series=obj.series).order_by("starts_at").values_list("starts_at", "status")
        )
        position = sum(1 for at, _ in starts if at <= obj.starts_at)
        ahead = sum(1 for at, status in starts if at >= obj.starts_at and status == Session.Status.SCHEDULED)
        return (
            f"Session {position} of {len(starts)}; {ahead} still scheduled from this one on. "
            "Use “Move all following” or “Cancel this and all following” above to change them together."
        )

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

    def change_view(self, request, object_id, form_url="", extra_context=None):
        # The page's heading in the viewer's zone; str(session) is in UTC (see Session.__str__).
        session = self.get_object(request, object_id)
        if session is not None:
            extra_context = {"subtitle": session.__html__(), **(extra_context or {})}
        return super().change_view(request, object_id, form_url, extra_context)

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

    @admin.action(
        description="Cancel selected sessions for the client (inside the window: a late cancellation)",
        permissions=["change"],
    )
    def cancel_for_client(self, request, queryset):
        # The client told the studio (a call, a message): recorded as the client's
        # cancellation, so inside the late-cancel window the policy applies as it
        # would in the portal.
        run_service_action(
            self,
            request,
            queryset,
            lambda session: services.session_cancel(session=session, by=Session.CancelledBy.CLIENT),
            argument="session",
            done="cancelled for the client",
        )

    # --- Weekly series -------------------------------------------------------------
    def get_urls(self):
        custom = [
            path(
                "book-series/",
                self.admin_site.admin_view(self.book_series_view),
                name="scheduling_session_book_series",
            ),
            path(
                "<path:object_id>/series/cancel/",
                self.admin_site.admin_view(self.series_cancel_view),
                name="scheduling_session_series_cancel",
            ),
            path(
                "<path:object_id>/series/move/",
                self.admin_site.admin_view(self.series_move_view),
                name="scheduling_session_series_move",
            ),
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

    # --- "This and all following" ---------------------------------------------------
    def _series_session(self, request, object_id):
        session = self.get_object(request, object_id)  # scoped: another trainer's is "not found"
        if session is None or session.series is None or not self.has_change_permission(request, session):
            return None
        return session

    def _series_page(self, request, session, *, title, form=None, result=None, following=None):
        context = {
            **self.admin_site.each_context(request),
            "title": title,
            "opts": self.model._meta,
            "original": session,
            "client_tz": session.client.tzinfo,
            "form": form,
            "result": result,
            "following": following,
            "change_url": reverse("admin:scheduling_session_change", args=[session.pk]),
            "changelist_url": reverse("admin:scheduling_session_changelist"),
        }
        return TemplateResponse(request, "admin/scheduling/session/series_change.html", context)

    def _report(self, request, result, done: str):
        what = "occurrence" if len(result.changed) == 1 else "occurrences"
        level = messages.WARNING if result.failed else messages.SUCCESS
        text = f"{len(result.changed)} {what} {done}"
        if result.failed:
            text += f"; {len(result.failed)} could not be and stay as they were (see below)"
        self.message_user(request, text + ".", level)

    def series_cancel_view(self, request, object_id):
        session = self._series_session(request, object_id)
        if session is None:
            return redirect("admin:scheduling_session_changelist")
        title = "Cancel this and all following sessions"
        if request.method == "POST":
            result = services.series_cancel_following(session=session)
            session.refresh_from_db()  # the page names it as it is now
            self._report(request, result, "cancelled")
            return self._series_page(request, session, title=title, result=result)
        return self._series_page(
            request, session, title=title, following=list(services.series_following(session))
        )

    def series_move_view(self, request, object_id):
        session = self._series_session(request, object_id)
        if session is None:
            return redirect("admin:scheduling_session_changelist")
        form = SeriesMoveForm(request.POST or None)
        result = None
        if request.method == "POST" and form.is_valid():
            try:
                result = services.series_move_following(
                    session=session,
                    new_time=form.cleaned_data["new_time"],
                    weekday=form.cleaned_data["weekday"],
                )
            except ValidationError as exc:
                form.add_error(None, exc.messages)
            else:
                session.refresh_from_db()  # the page names it as it is now
                self._report(request, result, "moved")
        following = None if result else list(services.series_following(session))
        return self._series_page(
            request,
            session,
            title="Move this and all following sessions",
            form=form,
            result=result,
            following=following,
        )


# --- The waitlist ---------------------------------------------------------------------


class SlotOfferInline(admin.TabularInline):
    """The freed times this request was offered (messaging's rows: an admin may show the apps above)."""

    model = SlotOffer
    extra = 0
    can_delete = False
    fields = (
        "offered_time",
        "session_type",
        "duration_minutes",
        "status",
        "sent",
        "booked_session",
        "created_at",
    )
    readonly_fields = fields
    ordering = ("-starts_at",)

    def has_add_permission(self, request, obj=None):
        return False

    @admin.display(description="Time offered")
    def offered_time(self, obj):
        return staff_datetime(obj.starts_at, obj.request.client.tzinfo)

    @admin.display(description="Message")
    def sent(self, obj):
        message = obj.message
        if message is None:
            return "-"
        url = reverse("admin:messaging_message_change", args=[message.pk])
        return format_html(
            '<a href="{}">{} · {}</a>', url, message.get_channel_display(), message.get_status_display()
        )

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("message", "session_type", "request__client")


@admin.register(WaitlistRequest)
class WaitlistRequestAdmin(TrainerScopedAdmin):
    """Who is waiting for a free time, and what they were offered. Clients ask in the portal;
    staff read, and may withdraw a request for the client."""

    trainer_lookup = "client__trainer"
    list_display = ("client", "window", "session_type", "channel", "status", "offers_sent", "created_at")
    list_filter = ("status", "channel", "trainer")
    list_select_related = ("client", "session_type")
    search_fields = ("client__first_name", "client__last_name", "client__email")
    readonly_fields = (
        "client",
        "trainer",
        "session_type",
        "from_date",
        "until_date",
        "channel",
        "status",
        "ended_at",
        "booked_session",
        "created_at",
    )
    fields = readonly_fields
    inlines = (SlotOfferInline,)
    actions = ("withdraw",)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        # A request's page is for reading; the list's action withdraws.
        return obj is None and super().has_change_permission(request, obj)

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(offer_count=Count("offers"))

    @admin.display(description="Window (client's days)", ordering="from_date")
    def window(self, obj):
        ended = (
            obj.status == WaitlistRequest.Status.WAITING
            and obj.until_date < timezone.now().astimezone(obj.client.tzinfo).date()
        )
        text = f"{obj.from_date:%a %d %b} – {obj.until_date:%a %d %b %Y}"
        return f"{text} (over)" if ended else text

    @admin.display(description="Offers", ordering="offer_count")
    def offers_sent(self, obj):
        return obj.offer_count

    @admin.action(description="Withdraw selected requests (no more offers)", permissions=["change"])
    def withdraw(self, request, queryset):
        count = waitlist_staff_withdraw(requests=queryset)
        self.message_user(request, f"{count} waiting request(s) withdrawn.", messages.SUCCESS)
