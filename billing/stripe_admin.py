"""The Stripe records in the admin, read-only: Stripe writes them, people read them.

Managers see every webhook event; one that did not book money ("amount or currency does
not match", "payment no longer open", "unknown payment") says what arrived and why, for
a refund or a receipt by hand.
"""

from django.contrib import admin

from billing.models import StripeCheckout, StripeEvent
from clients.admin_scoping import TrainerScopedAdmin


class _ReadOnly(TrainerScopedAdmin):
    trainer_lookup = "payment__client__trainer"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(StripeEvent)
class StripeEventAdmin(_ReadOnly):
    list_display = ("received_at", "type", "outcome", "payment", "detail")
    list_filter = ("outcome", "type")
    list_select_related = ("payment__client",)
    search_fields = ("event_id", "detail")
    date_hierarchy = "received_at"
    fields = ("event_id", "type", "outcome", "detail", "payment", "created", "received_at")


@admin.register(StripeCheckout)
class StripeCheckoutAdmin(_ReadOnly):
    list_display = ("created_at", "payment", "amount", "currency", "status", "expires_at", "session_id")
    list_filter = ("status",)
    list_select_related = ("payment__client",)
    search_fields = ("session_id",)
    fields = ("payment", "session_id", "amount", "currency", "status", "expires_at", "replaces", "created_at")
