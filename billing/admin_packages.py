"""Admin for packages and credits: package types, selling, each package's ledger,
staff adjustments and charging a session by hand. Writes go through ``billing.credits``."""

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import Count, Exists, OuterRef, Q
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from billing import credits
from billing.credits import expiry_text
from billing.models import ClientPackage, CreditEntry, PackageType
from clients.admin_scoping import TrainerScopedAdmin
from clients.roles import is_manager
from clients.selectors import visible_clients
from common.admin import ReadOnlyTabularInline
from common.clock import studio_today
from common.money import format_amount
from common.timefmt import staff_datetime
from scheduling.models import Session


def money(amount) -> str:
    # As the payments' pages and the portal show amounts ("£60.00").
    return format_amount(amount, settings.CURRENCY)


# --- Package types -----------------------------------------------------------------


@admin.register(PackageType)
class PackageTypeAdmin(admin.ModelAdmin):
    """Studio-wide: managers write them, trainers read them (to sell)."""

    list_display = ("name", "sessions", "price_shown", "validity", "covers", "shareable", "is_active", "sold")
    list_filter = ("is_active", "shareable")
    search_fields = ("name",)
    filter_horizontal = ("session_types",)
    fields = ("name", "sessions", "price", "validity_days", "session_types", "shareable", "is_active")

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(_sold=Count("sold")).prefetch_related("session_types")

    @admin.display(description="Price", ordering="price")
    def price_shown(self, obj):
        return money(obj.price)

    @admin.display(description="Valid for", ordering="validity_days")
    def validity(self, obj):
        return f"{obj.validity_days} days" if obj.validity_days else "never expires"

    @admin.display(description="Covers")
    def covers(self, obj):
        names = [t.name for t in obj.session_types.all()]
        return ", ".join(names) if names else "every session"

    @admin.display(description="Sold", ordering="_sold")
    def sold(self, obj):
        return obj._sold

    def has_add_permission(self, request):
        return is_manager(request.user) and super().has_add_permission(request)

    def has_change_permission(self, request, obj=None):
        return is_manager(request.user) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        # Sold types are protected by the database (PROTECT); take them off sale instead.
        return is_manager(request.user) and super().has_delete_permission(request, obj)


# --- Client packages ----------------------------------------------------------------


class CreditEntryInline(ReadOnlyTabularInline):
    model = CreditEntry
    fields = ("when", "kind", "delta_shown", "session_link", "reason", "created_by", "returned_shown")
    verbose_name_plural = "Credit ledger (every change is a row; credits left is their sum)"
    # Without each row's str() above it: the columns say it all.
    template = "admin/clients/client/session_inline.html"
    ordering = ("created_at", "pk")

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("session__client", "created_by")

    @admin.display(description="When")
    def when(self, obj):
        return staff_datetime(obj.created_at)

    @admin.display(description="Given back")
    def returned_shown(self, obj):
        # Only a spend can be given back; other rows leave the column empty.
        return ("yes" if obj.returned else "no") if obj.kind == CreditEntry.Kind.SPEND else ""

    @admin.display(description="Credits")
    def delta_shown(self, obj):
        return f"{obj.delta:+d}"

    @admin.display(description="Session")
    def session_link(self, obj):
        if obj.session_id is None:
            return "—"
        url = reverse("admin:scheduling_session_change", args=[obj.session_id])
        return format_html('<a href="{}">{}</a>', url, obj.session)


class SellPackageForm(forms.ModelForm):
    due_date = forms.DateField(
        required=False,
        help_text="When the client is to pay. Blank: the day it is bought.",
        widget=admin.widgets.AdminDateWidget,
    )

    class Meta:
        model = ClientPackage
        fields = ("client", "package_type", "bought_on", "shared_with")
        help_texts = {"bought_on": "The first day its credits can be used."}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["package_type"].queryset = PackageType.objects.filter(is_active=True)
        self.fields["bought_on"].initial = studio_today()

    def clean(self):
        data = super().clean()
        package_type, shared = data.get("package_type"), data.get("shared_with")
        if package_type and shared and not package_type.shareable:
            self.add_error("shared_with", f"{package_type} cannot be shared; leave this empty.")
        return data


class AdjustForm(forms.Form):
    delta = forms.IntegerField(
        label="Credits",
        min_value=-1000,
        max_value=1000,
        help_text="Positive adds credits, negative takes them.",
    )
    reason = forms.CharField(max_length=200, help_text="Why (kept in the ledger with your name).")
    allow_negative = forms.BooleanField(label="Allow going below zero", required=False)


class ChargeForm(forms.Form):
    session = forms.ModelChoiceField(queryset=Session.objects.none(), label="Session")
    allow_negative = forms.BooleanField(label="Allow going below zero", required=False)

    def __init__(self, *args, sessions, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["session"].queryset = sessions
        self.fields["session"].label_from_instance = lambda s: (
            f"{staff_datetime(s.starts_at)} — {s.get_status_display()}"
        )


class ReturnForm(forms.Form):
    session = forms.ModelChoiceField(queryset=Session.objects.none(), label="Session")
    reason = forms.CharField(max_length=200)

    def __init__(self, *args, sessions, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["session"].queryset = sessions
        self.fields["session"].label_from_instance = lambda s: (
            f"{staff_datetime(s.starts_at)} — {s.get_status_display()}"
        )


@admin.register(ClientPackage)
class ClientPackageAdmin(TrainerScopedAdmin):
    trainer_lookup = "client__trainer"
    list_display = ("client", "package_type", "bought_on", "expiry", "credits_shown", "payment_status")
    list_filter = ("package_type", "bought_on", "client__trainer")
    list_select_related = ("client", "package_type", "payment")
    search_fields = ("client__first_name", "client__last_name", "client__email", "package_type__name")
    date_hierarchy = "bought_on"
    autocomplete_fields = ("client", "shared_with")
    inlines = (CreditEntryInline,)
    change_form_template = "admin/billing/clientpackage/change_form.html"

    def get_queryset(self, request):
        return credits.packages_with_credits(super().get_queryset(request))

    def get_inlines(self, request, obj):
        return self.inlines if obj is not None else ()

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = SellPackageForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fields(self, request, obj=None):
        if obj is None:
            return ("client", "package_type", "bought_on", "due_date", "shared_with")
        return (
            "client",
            "package_type",
            "bought_on",
            "valid_until",
            "credits_shown",
            "payment_link",
            "shared_with",
            "sold_by",
        )

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ()
        return (
            "client",
            "package_type",
            "bought_on",
            "valid_until",
            "credits_shown",
            "payment_link",
            "shared_with",
            "sold_by",
        )

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        if db_field.name == "shared_with" and not is_manager(request.user):
            kwargs["queryset"] = visible_clients(request.user)
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    @admin.display(description="Credits left", ordering="credits_left")
    def credits_shown(self, obj):
        left = getattr(obj, "credits_left", None)
        if left is None:
            left = credits.credits_left(obj)
        return f"{left} of {obj.package_type.sessions}"

    @admin.display(description="Expiry", ordering="valid_until")
    def expiry(self, obj):
        return expiry_text(obj)

    @admin.display(description="Payment")
    def payment_status(self, obj):
        if obj.payment is None:
            return "—"
        return f"{money(obj.payment.amount)}, {obj.payment.get_status_display().lower()}"

    @admin.display(description="Payment")
    def payment_link(self, obj):
        if obj.payment_id is None:
            return "—"
        url = reverse("admin:billing_payment_change", args=[obj.payment_id])
        return format_html('<a href="{}">{}</a>', url, self.payment_status(obj))

    def save_model(self, request, obj, form, change):
        if change:
            return  # nothing on a sold package is edited here; credits move through the ledger
        sold = credits.package_sell(
            client=obj.client,
            package_type=obj.package_type,
            bought_on=obj.bought_on,
            due_date=form.cleaned_data.get("due_date"),
            sold_by=request.user,
            shared_with=form.cleaned_data.get("shared_with") or (),
        )
        # The admin goes on with this object (messages, the redirect, m2m): make it the sold one.
        obj.pk, obj.valid_until, obj.payment, obj.sold_by = (
            sold.pk,
            sold.valid_until,
            sold.payment,
            sold.sold_by,
        )
        obj._state.adding = False

    def save_related(self, request, form, formsets, change):
        if not change:
            return  # package_sell has set everything

    def has_delete_permission(self, request, obj=None):
        # The ledger is the record: a package is never deleted from here (cancel its payment
        # and adjust its credits instead).
        return False

    # --- Adjust credits / charge a session / give a credit back ----------------------
    def get_urls(self):
        return [
            path(
                "<path:object_id>/credits/",
                self.admin_site.admin_view(self.credits_view),
                name="billing_clientpackage_credits",
            ),
            *super().get_urls(),
        ]

    def _client_sessions(self, package):
        who = Q(client=package.client)
        if package.package_type.shareable:
            who |= Q(client__in=package.shared_with.all())
        return Session.objects.filter(who).select_related("client")

    def credits_view(self, request, object_id):
        package = self.get_object(request, object_id)  # scoped: another trainer's is "not found"
        if package is None or not self.has_change_permission(request, package):
            return redirect("admin:billing_clientpackage_changelist")
        sessions = self._client_sessions(package)
        open_spends = CreditEntry.objects.filter(kind=CreditEntry.Kind.SPEND, returned=False)
        # Sessions that took place and hold no credit (of any package), newest first.
        unpaid = (
            sessions.filter(status__in=[Session.Status.COMPLETED, Session.Status.NO_SHOW])
            .exclude(Exists(open_spends.filter(session=OuterRef("pk"))))
            .order_by("-starts_at")
        )
        holding = sessions.filter(
            Exists(open_spends.filter(session=OuterRef("pk"), package=package))
        ).order_by("-starts_at")
        which = request.POST.get("form") if request.method == "POST" else None
        adjust = AdjustForm(request.POST if which == "adjust" else None, prefix="adjust")
        charge = ChargeForm(request.POST if which == "charge" else None, prefix="charge", sessions=unpaid)
        give_back = ReturnForm(request.POST if which == "return" else None, prefix="return", sessions=holding)
        form = {"adjust": adjust, "charge": charge, "return": give_back}.get(which)
        if form is not None and form.is_valid():
            data = form.cleaned_data
            try:
                if which == "adjust":
                    credits.credit_adjust(
                        package=package,
                        delta=data["delta"],
                        reason=data["reason"],
                        by=request.user,
                        allow_negative=data["allow_negative"],
                    )
                    done = f"{data['delta']:+d} credits recorded."
                elif which == "charge":
                    entry = credits.credit_spend(
                        session=data["session"],
                        reason="charged by staff",
                        package=package,
                        allow_negative=data["allow_negative"],
                        by=request.user,
                    )
                    done = (
                        "One credit charged for the session."
                        if entry
                        else "That session already holds a credit."
                    )
                else:
                    credits.credit_return(session=data["session"], reason=data["reason"], by=request.user)
                    done = "The session's credit was given back."
            except ValidationError as exc:
                if hasattr(exc, "error_dict"):
                    for field, errors in exc.message_dict.items():
                        form.add_error(field if field in form.fields else None, errors)
                else:
                    form.add_error(None, exc.messages)
            else:
                self.message_user(request, done, messages.SUCCESS)
                return redirect("admin:billing_clientpackage_change", package.pk)
        context = {
            **self.admin_site.each_context(request),
            "title": "Adjust credits",
            "opts": self.model._meta,
            "original": package,
            "credits_left": credits.credits_left(package),
            "expiry": expiry_text(package),
            "adjust": adjust,
            "charge": charge,
            "give_back": give_back,
            "change_url": reverse("admin:billing_clientpackage_change", args=[package.pk]),
            "changelist_url": reverse("admin:billing_clientpackage_changelist"),
        }
        return TemplateResponse(request, "admin/billing/clientpackage/credits.html", context)
