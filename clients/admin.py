from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.db.models import Count, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.http import HttpResponseBadRequest, HttpResponseRedirect
from django.urls import reverse
from django.utils import timezone
from import_export.admin import ImportExportMixin
from import_export.formats import base_formats

from billing.credits import expiry_text, packages_with_credits
from billing.models import ClientPackage, Payment
from billing.selectors import balance_expression, client_balance
from clients.admin_scoping import TrainerScopedAdmin, staff_users
from clients.forms import ClientForm, ClientImportForm, StaffSettingsForm
from clients.models import Client, ConsentChange, StaffProfile, Tag
from clients.resources import ClientResource
from clients.roles import is_manager
from clients.services import client_save
from common.admin import ReadOnlyTabularInline
from common.money import format_amount
from common.timefmt import staff_datetime
from scheduling.models import Session


class SessionInline(ReadOnlyTabularInline):
    model = Session
    fk_name = "client"
    # Without str(session) (in UTC) above each row: "Starts" names both clocks.
    template = "admin/clients/client/session_inline.html"
    fields = ("when", "duration_minutes", "trainer", "location", "status")
    show_change_link = True
    ordering = ("-starts_at",)
    verbose_name_plural = "Sessions (book new ones from the Sessions page)"

    @admin.display(description="Starts")
    def when(self, obj):
        return staff_datetime(obj.starts_at, obj.client.tzinfo)

    def get_queryset(self, request):
        # Each row names the client's clock.
        return super().get_queryset(request).select_related("trainer", "client")


class PaymentInline(ReadOnlyTabularInline):
    model = Payment
    fields = (
        "amount",
        "received",
        "still_owed",
        "currency",
        "due_date",
        "status",
        "paid_at",
        "description",
    )
    show_change_link = True

    @admin.display(description="Received")
    def received(self, obj):
        return obj.amount_paid

    @admin.display(description="Still owed")
    def still_owed(self, obj):
        return obj.balance

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("client")


class PackageInline(ReadOnlyTabularInline):
    model = ClientPackage
    fk_name = "client"
    fields = ("package_type", "bought_on", "expiry", "credits")
    show_change_link = True
    verbose_name_plural = "Packages (sell one from Client packages → Add)"

    def get_queryset(self, request):
        # The client too: each row's title is the package's str(), which names its client.
        return packages_with_credits(super().get_queryset(request).select_related("package_type", "client"))

    @admin.display(description="Credits left")
    def credits(self, obj):
        return f"{obj.credits_left} of {obj.package_type.sessions}"

    @admin.display(description="Expiry")
    def expiry(self, obj):
        return expiry_text(obj)


class ConsentChangeInline(ReadOnlyTabularInline):
    model = ConsentChange
    fields = ("created_at", "channel", "category", "granted", "source", "detail")
    verbose_name_plural = "Contact preference history"


@admin.register(Client)
class ClientAdmin(ImportExportMixin, TrainerScopedAdmin):
    form = ClientForm
    # CSV in and out, scoped like the list: see clients/resources.py.
    resource_classes = [ClientResource]
    import_form_class = ClientImportForm
    import_formats = [base_formats.CSV]
    export_formats = [base_formats.CSV]
    list_display = (
        "full_name",
        "email",
        "phone",
        "trainer",
        "status",
        "upcoming_sessions",
        "owes",
        "created_at",
    )
    list_display_links = ("full_name",)
    list_filter = ("status", "trainer", "tags", "email_marketing", "sms_marketing")
    list_select_related = ("trainer",)
    search_fields = ("first_name", "last_name", "email", "phone")
    date_hierarchy = "created_at"
    autocomplete_fields = ("tags",)
    inlines = (SessionInline, PaymentInline, PackageInline, ConsentChangeInline)
    readonly_fields = (
        "balance",
        "email_unsubscribed_at",
        "sms_opted_out_at",
        "email_suppressed_at",
        "email_suppressed_reason",
    )
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "first_name",
                    "last_name",
                    "status",
                    "trainer",
                    "tags",
                    "notes",
                    "self_booking",
                    "balance",
                )
            },
        ),
        ("Contact", {"fields": ("email", "phone", "timezone", "birth_date")}),
        (
            "Contact preferences",
            {
                "fields": (
                    ("email_reminders", "email_marketing"),
                    ("sms_reminders", "sms_marketing"),
                    "email_unsubscribed_at",
                    "sms_opted_out_at",
                    ("email_suppressed_at", "email_suppressed_reason"),
                ),
                "description": "Marketing needs the client's consent. STOP and unsubscribe "
                "are recorded automatically and stop everything on that channel.",
            },
        ),
    )

    def get_queryset(self, request):
        # A correlated subquery, not Count() over a join: no GROUP BY, so the
        # model's ordering still applies (autocomplete pages are stable) and
        # list filters on tags cannot multiply the count.
        upcoming = (
            Session.objects.filter(
                client=OuterRef("pk"), status=Session.Status.SCHEDULED, starts_at__gte=timezone.now()
            )
            .order_by()
            .values("client")
            .annotate(n=Count("pk"))
            .values("n")
        )
        return (
            super()
            .get_queryset(request)
            .annotate(_upcoming=Coalesce(Subquery(upcoming), 0), _owes=balance_expression())
        )

    @admin.display(description="Name", ordering="last_name")
    def full_name(self, obj):
        return obj.full_name

    @admin.display(description="Upcoming", ordering="_upcoming")
    def upcoming_sessions(self, obj):
        return obj._upcoming

    @admin.display(description="Owes", ordering="_owes")
    def owes(self, obj):
        return format_amount(obj._owes, settings.CURRENCY) if obj._owes else "—"

    @admin.display(description="Balance")
    def balance(self, obj):
        if obj is None or obj.pk is None:
            return "—"
        balance = client_balance(obj)
        if not balance.open_payments:
            return "Nothing owed."
        text = f"{format_amount(balance.owed, settings.CURRENCY)} owed on {balance.open_payments} open payment(s)"
        if balance.overdue:
            text += f", {format_amount(balance.overdue, settings.CURRENCY)} of it overdue"
        return text + "."

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if not is_manager(request.user):
            fields.append("trainer")
        return fields

    def get_resource_kwargs(self, request, *args, **kwargs):
        return {**super().get_resource_kwargs(request, *args, **kwargs), "user": request.user}

    def export_action(self, request):
        # The export applies the list's filters from the query string; the
        # list itself answers bad ones with "?e=1", the export with a 400.
        try:
            return super().export_action(request)
        except IncorrectLookupParameters:
            return HttpResponseBadRequest("The list filters in the address are not valid.")

    def process_dataset(self, dataset, form, request, **kwargs):
        # The confirmation imports the stored file again, and the studio may have
        # changed since the preview (a client added with the same email): a row that
        # fails now stops the whole import, as it would have stopped the preview.
        kwargs.setdefault("rollback_on_validation_errors", True)
        return super().process_dataset(dataset, form, request, **kwargs)

    def process_result(self, result, request):
        if result.has_errors() or result.has_validation_errors():
            # Rolled back; the library would still announce "Import finished".
            messages.error(
                request,
                f"Nothing was imported: {len(result.invalid_rows) + len(result.row_errors())} row(s) "
                f"no longer pass the checks{' and the import failed' if result.base_errors else ''}; "
                "the clients may have changed since the preview. Upload the file again to see why.",
            )
            return HttpResponseRedirect(reverse("admin:clients_client_import"))
        return super().process_result(result, request)

    def has_import_permission(self, request):
        return self.has_add_permission(request)

    def has_export_permission(self, request):
        return self.has_view_permission(request)

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        form.current_user = request.user  # a fresh class per call
        return form

    def save_model(self, request, obj, form, change):
        if not change and not obj.trainer_id:
            obj.trainer = request.user
        client_save(client=obj)


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    search_fields = ("name",)
    list_display = ("name",)


@admin.register(StaffProfile)
class StaffProfileAdmin(admin.ModelAdmin):
    """Managers set each staff member's zone here; everyone sets their own under My settings."""

    form = StaffSettingsForm
    fields = ("user", "timezone", "notify")
    list_display = ("user", "timezone_or_studio", "notify")
    list_select_related = ("user",)
    search_fields = ("user__username", "user__first_name", "user__last_name")

    @admin.display(description="Time zone", ordering="timezone")
    def timezone_or_studio(self, obj):
        return obj.timezone or f"studio's ({obj.tzinfo.key})"

    def get_form(self, request, obj=None, change=False, **kwargs):
        kwargs["fields"] = ("user", "timezone", "notify")
        return super().get_form(request, obj, change=change, **kwargs)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "user":
            kwargs["queryset"] = staff_users()
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_readonly_fields(self, request, obj=None):
        return ("user",) if obj is not None else ()


class StaffProfileInline(admin.StackedInline):
    model = StaffProfile
    form = StaffSettingsForm
    fields = ("timezone", "notify")
    can_delete = False
    verbose_name_plural = "Staff settings"


User = get_user_model()
if admin.site.is_registered(User):
    admin.site.unregister(User)


@admin.register(User)
class StaffUserAdmin(UserAdmin):
    inlines = (*UserAdmin.inlines, StaffProfileInline)
