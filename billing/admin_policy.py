"""Admin for the no-show and late-cancel policy: its one settings page, the charges, waiving."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from billing import charges
from billing.charges import WAIVE_REASON_MAX_LENGTH
from billing.policy import SessionCharge, StudioPolicy
from clients.admin_scoping import TrainerScopedAdmin
from common.money import format_amount
from common.timefmt import staff_datetime


@admin.register(StudioPolicy)
class StudioPolicyAdmin(admin.ModelAdmin):
    """One row: the list opens it; it is never added by hand or deleted."""

    fieldsets = (
        (
            "Late cancellations",
            {
                "fields": (
                    "late_cancel_window_hours",
                    "clients_may_cancel_late",
                    "late_cancel_charge",
                    "late_cancel_fee",
                    "late_cancel_percent",
                )
            },
        ),
        ("No-shows", {"fields": ("no_show_charge", "no_show_fee", "no_show_percent")}),
        ("Free ones", {"fields": ("grace_count", "grace_days")}),
        ("Fees", {"fields": ("fee_due_days",)}),
        ("What clients read", {"fields": ("client_note", "clients_read")}),
    )
    readonly_fields = ("clients_read",)

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def changelist_view(self, request, extra_context=None):
        return redirect("admin:billing_studiopolicy_change", charges.studio_policy().pk)

    def get_object(self, request, object_id, from_field=None):
        # Before the first save the page edits the defaults; saving inserts the one row.
        if str(object_id) == "1":
            return charges.studio_policy()
        return None

    @admin.display(description="Clients read")
    def clients_read(self, obj):
        # Saved settings: the portal's words as they are now (save to see a change).
        return charges.policy_text(obj)


class WaivedFilter(admin.SimpleListFilter):
    title = "waived"
    parameter_name = "waived"

    def lookups(self, request, model_admin):
        return (("no", "Standing"), ("yes", "Waived or corrected"))

    def queryset(self, request, queryset):
        if self.value() in ("yes", "no"):
            return queryset.filter(waived_at__isnull=self.value() == "no")
        return queryset


class SessionChargeAdmin(TrainerScopedAdmin):
    trainer_lookup = "client__trainer"
    list_display = ("session_when", "client", "kind", "outcome", "fee", "waived", "created_at")
    list_filter = ("kind", "outcome", WaivedFilter, "client__trainer")
    list_select_related = ("client", "session__client", "fee_payment", "waived_by")
    search_fields = ("client__first_name", "client__last_name", "client__email")
    date_hierarchy = "created_at"
    fields = (
        "session_link",
        "client",
        "kind",
        "outcome",
        "note",
        "fee",
        "credit",
        "created_at",
        "waived",
        "waive_reason",
        "waive_button",
    )
    readonly_fields = fields

    def has_add_permission(self, request):
        return False  # the policy makes them, once per session

    def change_view(self, request, object_id, form_url="", extra_context=None):
        # Nothing on the page is edited in place: waiving has its own page.
        extra_context = {"show_save": False, "show_save_and_continue": False, **(extra_context or {})}
        return super().change_view(request, object_id, form_url, extra_context)

    def has_delete_permission(self, request, obj=None):
        return False  # the record of what happened; waive instead

    @admin.display(description="Session", ordering="session__starts_at")
    def session_link(self, obj):
        url = reverse("admin:scheduling_session_change", args=[obj.session_id])
        return format_html(
            '<a href="{}">{}</a>', url, staff_datetime(obj.session.starts_at, obj.client.tzinfo)
        )

    @admin.display(description="Session", ordering="session__starts_at")
    def session_when(self, obj):
        # The list's link to the charge: the session's own page is linked from the charge.
        return staff_datetime(obj.session.starts_at, obj.client.tzinfo)

    @admin.display(description="Fee")
    def fee(self, obj):
        payment = obj.fee_payment
        if payment is None:
            return "—"
        url = reverse("admin:billing_payment_change", args=[payment.pk])
        return format_html(
            '<a href="{}">{}</a> ({})',
            url,
            format_amount(payment.amount, payment.currency),
            payment.get_status_display().lower(),
        )

    @admin.display(description="Credit")
    def credit(self, obj):
        entry = obj.credit_entry
        if entry is None:
            return "—"
        url = reverse("admin:billing_clientpackage_change", args=[entry.package_id])
        state = "given back" if entry.returned else "spent"
        return format_html('One credit of <a href="{}">{}</a> ({})', url, entry.package, state)

    @admin.display(description="Waived", ordering="waived_at")
    def waived(self, obj):
        if not obj.is_waived:
            return "—"
        who = "corrected to completed" if obj.corrected else (obj.waived_by or "unknown")
        return f"{staff_datetime(obj.waived_at)} ({who})"

    @admin.display(description="Waive")
    def waive_button(self, obj):
        if obj.is_waived:
            return "Waived charges stay on record and never apply again."
        url = reverse("admin:billing_sessioncharge_waive", args=[obj.pk])
        return format_html('<a class="button" href="{}" id="waive-charge">Waive this charge…</a>', url)

    def get_urls(self):
        return [
            path(
                "<path:object_id>/waive/",
                self.admin_site.admin_view(self.waive_view),
                name="billing_sessioncharge_waive",
            ),
            *super().get_urls(),
        ]

    def waive_view(self, request, object_id):
        charge = self.get_object(request, object_id)
        if charge is None or not self.has_change_permission(request, charge):
            # Another trainer's charge is "not found", like every scoped page.
            self.message_user(request, "No such charge.", messages.WARNING)
            return redirect("admin:billing_sessioncharge_changelist")
        change_url = reverse("admin:billing_sessioncharge_change", args=[charge.pk])
        form = WaiveForm(request.POST or None)
        if request.method == "POST" and form.is_valid() and not charge.is_waived:
            try:
                result = charges.charge_waive(
                    charge=charge, by=request.user, reason=form.cleaned_data["reason"]
                )
            except ValidationError as exc:
                form.add_error(None, exc)
            else:
                text = "Charge waived."
                if result.fee_already_paid:
                    text += (
                        " The fee had already been paid and stays recorded as paid: "
                        "refund it to the client your usual way."
                    )
                elif result.fee_received:
                    currency = charge.fee_payment.currency
                    text += (
                        " Its fee payment is cancelled: the "
                        f"{format_amount(result.fee_written_off, currency)} still owed is written off; "
                        f"the {format_amount(result.fee_received, currency)} already received stays "
                        "recorded with its receipts: refund it to the client your usual way."
                    )
                elif charge.fee_payment_id:
                    text += " Its fee payment is cancelled."
                self.message_user(
                    request, text, messages.WARNING if result.fee_already_paid else messages.SUCCESS
                )
                return redirect(change_url)
        context = {
            **self.admin_site.each_context(request),
            "title": "Waive this charge",
            "opts": self.model._meta,
            "original": charge,
            "form": form,
            "fee": charge.fee_payment,
            "fee_text": format_amount(charge.fee_payment.amount, charge.fee_payment.currency)
            if charge.fee_payment
            else "",
            # A part-paid fee: the waive writes off the rest; what was received stays.
            "fee_received_text": format_amount(charge.fee_payment.amount_paid, charge.fee_payment.currency)
            if charge.fee_payment and charge.fee_payment.amount_paid
            else "",
            "fee_owed_text": format_amount(charge.fee_payment.balance, charge.fee_payment.currency)
            if charge.fee_payment
            else "",
            "session_when": staff_datetime(charge.session.starts_at, charge.client.tzinfo),
            "change_url": change_url,
            "changelist_url": reverse("admin:billing_sessioncharge_changelist"),
        }
        return TemplateResponse(request, "admin/billing/sessioncharge/waive.html", context)


class WaiveForm(forms.Form):
    reason = forms.CharField(
        label="Why",
        max_length=WAIVE_REASON_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text="Recorded with your name, e.g. “Client was ill, sent a doctor's note”.",
    )


admin.site.register(SessionCharge, SessionChargeAdmin)
