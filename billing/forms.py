from django import forms

from billing.models import Payment


class PaymentForm(forms.ModelForm):
    class Meta:
        model = Payment
        fields = ("client", "session", "amount", "due_date", "method", "description")
