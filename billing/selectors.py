"""Reads about money: what a client owes."""

from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Count, DecimalField, F, OuterRef, Q, Subquery, Sum, Value
from django.db.models.functions import Coalesce

from billing.models import Payment

#: Payments that still expect money; a paid or cancelled one owes nothing.
OPEN_STATUSES = (Payment.Status.PENDING, Payment.Status.OVERDUE)
_MONEY = DecimalField(max_digits=12, decimal_places=2)
_OWED = F("amount") - F("amount_paid")


def balance_expression(client_ref: str = "pk"):
    """What a client owes, as an expression over clients (``client_ref`` names the client's
    id in the outer query): one correlated sum, so a list of clients or a segment costs no
    extra query. 0.00 when nothing is open."""
    owed = (
        Payment.objects.filter(status__in=OPEN_STATUSES, client_id=OuterRef(client_ref))
        .order_by()
        .values("client_id")
        .annotate(owed=Sum(_OWED, output_field=_MONEY))
        .values("owed")
    )
    return Coalesce(Subquery(owed, output_field=_MONEY), Value(Decimal("0.00")), output_field=_MONEY)


@dataclass(frozen=True)
class Balance:
    owed: Decimal
    overdue: Decimal
    open_payments: int


def client_balance(client) -> Balance:
    """What ``client`` owes over their open payments, and how much of it is overdue (one query)."""
    totals = Payment.objects.filter(client=client, status__in=OPEN_STATUSES).aggregate(
        owed=Sum(_OWED, output_field=_MONEY),
        overdue=Sum(_OWED, filter=Q(status=Payment.Status.OVERDUE), output_field=_MONEY),
        count=Count("pk"),
    )
    return Balance(
        owed=totals["owed"] or Decimal("0.00"),
        overdue=totals["overdue"] or Decimal("0.00"),
        open_payments=totals["count"],
    )
