from datetime import datetime, timedelta
from decimal import Decimal

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone

from billing.models import EARLIEST_DUE_DATE, Payment
from common.clock import studio_midnight, studio_today
from common.money import format_amount


class PaymentForm(forms.ModelForm):
    class Meta:
        model = Payment
        fields = ("client", "session", "amount", "due_date", "method", "description")


def received_at(day, *, now: datetime | None = None) -> datetime:
    """The moment to record for money received on the studio's ``day``: now when it is
    today, else midday — a time of day nobody entered, chosen so the date reads the same
    on any clock within eleven hours of the studio's."""
    now = now or timezone.now()
    if day == studio_today(now):
        return now
    return studio_midnight(day) + timedelta(hours=12)


class ReceivedFields(forms.Form):
    """When and how money arrived: the fields both payment forms ask for."""

    received_on = forms.DateField(
        label="Received on",
        # ISO: a date input shows nothing for any other format (the locale would give 10/03/2027).
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        help_text="The day the money arrived (the studio's calendar).",
    )
    method = forms.ChoiceField(label="Method", choices=[("", "---------"), *Payment.Method.choices])
    reference = forms.CharField(
        label="Reference",
        max_length=100,
        required=False,
        help_text="Optional: a bank reference, a card slip number…",
    )

    def clean_received_on(self):
        day = self.cleaned_data["received_on"]
        if day > studio_today():
            raise ValidationError("Money cannot be received in the future.", code="future")
        if day < EARLIEST_DUE_DATE:
            raise ValidationError(f"Enter a date from {EARLIEST_DUE_DATE:%d %B %Y} on.", code="too_early")
        return day

    @property
    def paid_at(self) -> datetime:
        return received_at(self.cleaned_data["received_on"])


class ReceiptForm(ReceivedFields):
    """Record one amount received on one payment (partial or the whole balance)."""

    amount = forms.DecimalField(
        label="Amount received",
        max_digits=10,
        decimal_places=2,
        min_value=Decimal("0.01"),
        error_messages={"min_value": "The amount received must be greater than zero."},
    )
    field_order = ("amount", "received_on", "method", "reference")

    def __init__(self, *args, payment: Payment, **kwargs):
        kwargs.setdefault(
            "initial",
            {"amount": payment.balance, "received_on": studio_today(), "method": payment.method},
        )
        super().__init__(*args, **kwargs)
        self.payment = payment
        self.fields["amount"].help_text = f"Still owed: {format_amount(payment.balance, payment.currency)}."


class MarkPaidForm(ReceivedFields):
    """Mark several payments paid at once: each gets one receipt for its whole balance."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("initial", {"received_on": studio_today()})
        super().__init__(*args, **kwargs)
