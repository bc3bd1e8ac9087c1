from django.contrib import admin

from billing import services
from billing.forms import PaymentForm
from billing.models import Payment
from clients.admin_scoping import TrainerScopedAdmin, run_service_action


@admin.register(Payment)
class PaymentAdmin(TrainerScopedAdmin):
    form = PaymentForm
    trainer_lookup = "client__trainer"
    list_display = ("client", "amount", "currency", "due_date", "status", "paid_at", "method", "description")
    list_filter = ("status", "method", "due_date", "client__trainer")
    list_select_related = ("client",)
    search_fields = ("client__first_name", "client__last_name", "client__email", "description")
    date_hierarchy = "due_date"
    autocomplete_fields = ("client", "session")
    actions = ("mark_paid", "mark_overdue", "cancel_payments")
    readonly_fields = ("status", "currency", "paid_at", "overdue_at", "created_at", "updated_at")

    def save_model(self, request, obj, form, change):
        services.payment_save(payment=obj)

    @admin.action(description="Mark selected payments paid", permissions=["change"])
    def mark_paid(self, request, queryset):
        run_service_action(
            self, request, queryset, services.payment_mark_paid, argument="payment", done="marked paid"
        )

    @admin.action(description="Mark selected payments overdue", permissions=["change"])
    def mark_overdue(self, request, queryset):
        run_service_action(
            self, request, queryset, services.payment_mark_overdue, argument="payment", done="marked overdue"
        )

    @admin.action(description="Cancel selected payments", permissions=["change"])
    def cancel_payments(self, request, queryset):
        run_service_action(
            self, request, queryset, services.payment_cancel, argument="payment", done="cancelled"
        )


# Packages and credits, the no-show and late-cancel policy and the Stripe records (pay
# links, webhook events) have their own modules; importing them registers their pages.
from billing import admin_packages, admin_policy, stripe_admin  # noqa: E402, F401
