from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from billing import services
from billing.credits import packages_with_credits
from billing.forms import MarkPaidForm, PaymentForm, ReceiptForm
from billing.models import ClientPackage, Payment, Receipt
from billing.selectors import OPEN_STATUSES
from clients.admin_scoping import TrainerScopedAdmin, run_service_action
from common.admin import ReadOnlyTabularInline
from common.ids import parse_pk
from common.money import format_amount
from common.timefmt import staff_datetime

# The admin is the UI layer: its "Email receipt" buttons call the messaging service that
# renders and queues the email (billing's own code never imports messaging).
from messaging.receipts import receipt_email, render_receipt


def _received(receipt):
    return staff_datetime(receipt.paid_at) if receipt.paid_at else ""


class ReceiptInline(ReadOnlyTabularInline):
    model = Receipt
    # The tabular inline without each row's title ("Receipt R00001"): the Number column says it.
    template = "admin/clients/client/session_inline.html"
    fields = (
        "receipt_number",
        "received",
        "amount_received",
        "method",
        "reference",
        "recorded_by",
        "emailed",
    )
    verbose_name_plural = "Money received (receipts)"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("payment", "recorded_by")

    @admin.display(description="Number")
    def receipt_number(self, obj):
        return obj.label

    @admin.display(description="Received")
    def received(self, obj):
        return _received(obj)

    @admin.display(description="Amount")
    def amount_received(self, obj):
        # An unsaved row only appears when a crafted post claims inline forms (nothing is added).
        return format_amount(obj.amount, obj.payment.currency) if obj.amount is not None else ""

    @admin.display(description="Emailed")
    def emailed(self, obj):
        return staff_datetime(obj.emailed_at) if obj.emailed_at else "—"


@admin.register(Payment)
class PaymentAdmin(TrainerScopedAdmin):
    form = PaymentForm
    trainer_lookup = "client__trainer"
    list_display = (
        "client",
        "amount_due",
        "still_owed",
        "due_date",
        "status",
        "paid_at",
        "method",
        "description",
        "record_link",
    )
    list_filter = ("status", "method", "due_date", "client__trainer")
    list_select_related = ("client",)
    search_fields = ("client__first_name", "client__last_name", "client__email", "description")
    date_hierarchy = "due_date"
    autocomplete_fields = ("client", "session")
    actions = ("mark_paid", "email_receipts", "mark_overdue", "cancel_payments")
    readonly_fields = (
        "status",
        "currency",
        "received_so_far",
        "still_owed",
        "paid_at",
        "overdue_at",
        "reference",
        "created_at",
        "updated_at",
    )
    inlines = (ReceiptInline,)
    # One order whether the amount is editable or (once money was received) read-only.
    fields = (
        "client",
        "session",
        "amount",
        "due_date",
        "method",
        "description",
        "status",
        "currency",
        "received_so_far",
        "still_owed",
        "paid_at",
        "overdue_at",
        "reference",
        "created_at",
        "updated_at",
    )

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if obj is not None and obj.amount_paid:
            # The receipts add up to this amount (billing.services.payment_save refuses it too).
            fields.append("amount")
        return fields

    @admin.display(description="Amount", ordering="amount")
    def amount_due(self, obj):
        return format_amount(obj.amount, obj.currency)

    @admin.display(description="Received", ordering="amount_paid")
    def received_so_far(self, obj):
        if obj.pk is None:  # the add page
            return "—"
        return format_amount(obj.amount_paid, obj.currency)

    @admin.display(description="Still owed")
    def still_owed(self, obj):
        if obj.pk is None or obj.amount is None:  # the add page, or an amount that did not parse
            return "—"
        return format_amount(obj.balance, obj.currency)

    @admin.display(description="")
    def record_link(self, obj):
        if obj.status not in OPEN_STATUSES:
            return ""
        url = reverse("admin:billing_payment_record", args=[obj.pk])
        return format_html('<a href="{}" class="record-payment">Record payment</a>', url)

    def save_model(self, request, obj, form, change):
        services.payment_save(payment=obj)

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except ValidationError as exc:
            # payment_save refused (money was received since the page was opened): the
            # page again, with the reason.
            self.message_user(request, " ".join(exc.messages), messages.ERROR)
            return redirect(request.path)

    # --- Pages of their own: record a payment, email a receipt --------------------------

    def get_urls(self):
        def view(name, func):
            return path(
                f"<path:object_id>/{name}/",
                self.admin_site.admin_view(func),
                name=f"billing_payment_{name.replace('-', '_')}",
            )

        return [
            view("record", self.record_view),
            view("email-receipt", self.email_receipt_view),
        ] + super().get_urls()

    def _payment_for_change(self, request, object_id) -> Payment:
        payment = self.get_object(request, object_id)
        if payment is None:
            raise Http404("No such payment.")
        if not self.has_change_permission(request, payment):
            raise PermissionDenied
        return payment

    def _page(self, request, payment, template, **context):
        return TemplateResponse(
            request,
            template,
            {
                **self.admin_site.each_context(request),
                "opts": self.model._meta,
                "payment": payment,
                "receipts": list(payment.receipts.select_related("recorded_by").order_by("number")),
                "change_url": reverse("admin:billing_payment_change", args=[payment.pk]),
                **context,
            },
        )

    def record_view(self, request, object_id):
        """Record money received on one payment: how much (the balance by default), when, how."""
        payment = self._payment_for_change(request, object_id)
        if request.method == "POST":
            form = ReceiptForm(request.POST, payment=payment)
            if form.is_valid():
                data = form.cleaned_data
                try:
                    receipt = services.payment_record_receipt(
                        payment=payment,
                        amount=data["amount"],
                        paid_at=form.paid_at,
                        method=data["method"],
                        reference=data["reference"],
                        recorded_by=request.user,
                    )
                except ValidationError as exc:
                    _errors_onto(form, exc)
                else:
                    self.message_user(request, _recorded_text(receipt, payment), messages.SUCCESS)
                    return redirect(reverse("admin:billing_payment_change", args=[payment.pk]))
            status = 400
        else:
            form = ReceiptForm(payment=payment)
            status = 200
        response = self._page(
            request, payment, "admin/billing/payment/record.html", form=form, title="Record a payment"
        )
        response.status_code = status if request.method == "POST" else 200
        return response

    def email_receipt_view(self, request, object_id):
        """The receipt email as the client will get it; *Send* queues it."""
        payment = self._payment_for_change(request, object_id)
        receipts = payment.receipts.select_related("payment__client", "recorded_by")
        chosen = parse_pk(request.POST.get("receipt") or request.GET.get("receipt"))
        receipt = receipts.filter(pk=chosen).first() if chosen else None
        receipt = receipt or receipts.order_by("-number").first()
        if receipt is None:
            self.message_user(request, "No money has been received on this payment yet.", messages.ERROR)
            return redirect(reverse("admin:billing_payment_change", args=[payment.pk]))
        if request.method == "POST":
            try:
                receipt_email(receipt=receipt, sent_by=request.user)
            except ValidationError as exc:
                self.message_user(request, " ".join(exc.messages), messages.ERROR)
            else:
                self.message_user(
                    request, f"Receipt {receipt.label} emailed to {payment.client.email}.", messages.SUCCESS
                )
            return redirect(reverse("admin:billing_payment_change", args=[payment.pk]))
        try:
            subject, body = render_receipt(receipt)
            error = ""
        except ValidationError as exc:
            subject, body, error = "", "", " ".join(exc.messages)
        return self._page(
            request,
            payment,
            "admin/billing/payment/email_receipt.html",
            receipt=receipt,
            subject=subject,
            body=body,
            error=error,
            cannot_receive=payment.client.cannot_receive_reason("email", "transactional"),
            title=f"Email receipt {receipt.label}",
        )

    # --- Actions ---------------------------------------------------------------------------

    @admin.action(description="Mark selected payments paid…", permissions=["change"])
    def mark_paid(self, request, queryset):
        """An intermediate page asks when and how; each payment gets a receipt for its balance."""
        if "apply" in request.POST:
            form = MarkPaidForm(request.POST)
            if form.is_valid():
                data = form.cleaned_data
                run_service_action(
                    self,
                    request,
                    queryset,
                    lambda payment: services.payment_mark_paid(
                        payment=payment,
                        paid_at=form.paid_at,
                        method=data["method"],
                        reference=data["reference"],
                        recorded_by=request.user,
                    ),
                    argument="payment",
                    done="marked paid",
                )
                return None
        else:
            form = MarkPaidForm()
        payments = list(queryset.select_related("client").order_by("due_date", "pk"))
        return TemplateResponse(
            request,
            "admin/billing/payment/mark_paid.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.model._meta,
                "title": "Mark payments paid",
                "form": form,
                "payments": payments,
                "total": sum((p.balance for p in payments), start=0),
                "action_checkbox_name": ACTION_CHECKBOX_NAME,
                "changelist_url": reverse("admin:billing_payment_changelist"),
            },
            status=400 if "apply" in request.POST else 200,
        )

    @admin.action(description="Email receipt (the latest) for selected payments", permissions=["change"])
    def email_receipts(self, request, queryset):
        latest = {}
        for receipt in (
            Receipt.objects.filter(payment__in=queryset)
            .select_related("payment__client")
            .order_by("payment_id", "-number")
        ):
            latest.setdefault(receipt.payment_id, receipt)
        _email_each(self, request, list(latest.values()))
        missing = queryset.exclude(pk__in=latest).count()
        if missing:
            self.message_user(
                request,
                f"{missing} payment(s) have no money received yet: no receipt to email.",
                messages.WARNING,
            )

    @admin.action(description="Mark selected payments overdue", permissions=["change"])
    def mark_overdue(self, request, queryset):
        run_service_action(
            self, request, queryset, services.payment_mark_overdue, argument="payment", done="marked overdue"
        )

    @admin.action(description="Cancel selected payments", permissions=["change"])
    def cancel_payments(self, request, queryset):
        part_paid = list(
            queryset.filter(status__in=OPEN_STATUSES, amount_paid__gt=0).select_related("client")
        )
        packages = list(
            packages_with_credits(
                ClientPackage.objects.filter(
                    payment__in=queryset.filter(status__in=OPEN_STATUSES)
                ).select_related("package_type", "payment__client")
            )
        )
        run_service_action(
            self, request, queryset, services.payment_cancel, argument="payment", done="cancelled"
        )
        for payment in part_paid:
            payment.refresh_from_db(fields=["status"])
            if payment.status == Payment.Status.CANCELLED:
                self.message_user(
                    request,
                    f"{payment}: the {format_amount(payment.amount_paid, payment.currency)} already received "
                    "stays recorded with its receipts; the rest is no longer owed.",
                    messages.WARNING,
                )
        # A package's credits are the client's whatever became of its payment (given away,
        # settled another way): cancelling the payment does not take them; staff may.
        for package in packages:
            if Payment.objects.filter(pk=package.payment_id, status=Payment.Status.CANCELLED).exists():
                self.message_user(
                    request,
                    f"{package.payment}: its package {package.package_type.name} keeps its "
                    f"{package.credits_left} credits left: take them back with Adjust credits on the "
                    "package if the client is not to use them.",
                    messages.WARNING,
                )


def _errors_onto(form, exc: ValidationError) -> None:
    """A service's refusal onto the form: a field's error next to the field, the rest on top."""
    if hasattr(exc, "error_dict"):
        for field, errors in exc.error_dict.items():
            target = {"paid_at": "received_on"}.get(field, field)
            form.add_error(target if target in form.fields else None, errors)
    else:
        form.add_error(None, exc)


def _recorded_text(receipt, payment) -> str:
    received = format_amount(receipt.amount, payment.currency)
    if payment.status == Payment.Status.PAID:
        return f"Receipt {receipt.label}: {received} received. The payment is paid in full."
    return (
        f"Receipt {receipt.label}: {received} received. "
        f"Still owed: {format_amount(payment.balance, payment.currency)}."
    )


def _email_each(modeladmin, request, receipts) -> None:
    sent, refused = 0, []
    for receipt in receipts:
        try:
            receipt_email(receipt=receipt, sent_by=request.user)
        except ValidationError as exc:
            refused.append(f"{receipt} ({receipt.payment.client}): {' '.join(exc.messages)}")
        else:
            sent += 1
    if sent:
        modeladmin.message_user(request, f"{sent} receipt(s) emailed.", messages.SUCCESS)
    for line in refused:
        modeladmin.message_user(request, line, messages.ERROR)


@admin.register(Receipt)
class ReceiptAdmin(TrainerScopedAdmin):
    """Every amount received, by number: what came in, when and how (read-only; receipts are
    recorded from their payment's page)."""

    trainer_lookup = "payment__client__trainer"
    list_display = (
        "label",
        "client",
        "received",
        "amount_received",
        "method",
        "reference",
        "for_payment",
        "emailed",
    )
    list_display_links = ("label",)
    list_filter = ("method", "paid_at", "payment__client__trainer")
    list_select_related = ("payment__client",)
    search_fields = ("=number", "payment__client__first_name", "payment__client__last_name", "reference")
    date_hierarchy = "paid_at"
    actions = ("email_receipts",)
    fields = (
        "label",
        "for_payment",
        "client",
        "received",
        "amount_received",
        "method",
        "reference",
        "recorded_by",
        "emailed",
    )
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="Number", ordering="number")
    def label(self, obj):
        return obj.label

    @admin.display(description="Client", ordering="payment__client__last_name")
    def client(self, obj):
        return obj.payment.client

    @admin.display(description="Received", ordering="paid_at")
    def received(self, obj):
        return _received(obj)

    @admin.display(description="Amount", ordering="amount")
    def amount_received(self, obj):
        return format_amount(obj.amount, obj.payment.currency)

    @admin.display(description="Payment")
    def for_payment(self, obj):
        url = reverse("admin:billing_payment_change", args=[obj.payment_id])
        return format_html('<a href="{}">{}</a>', url, obj.payment.description or f"Payment {obj.payment_id}")

    @admin.display(description="Emailed", ordering="emailed_at")
    def emailed(self, obj):
        return staff_datetime(obj.emailed_at) if obj.emailed_at else "—"

    # "view": whoever may see a receipt may send it to its own client (a trainer, hers).
    @admin.action(description="Email selected receipts", permissions=["view"])
    def email_receipts(self, request, queryset):
        _email_each(self, request, list(queryset.select_related("payment__client")))


# Packages and credits, the no-show and late-cancel policy and the Stripe records (pay
# links, webhook events) have their own modules; importing them registers their pages.
from billing import admin_packages, admin_policy, stripe_admin  # noqa: E402, F401
