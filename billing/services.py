"""Payment status changes; impossible transitions are refused with a clear error."""

from datetime import date, datetime
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from billing.models import Payment
from common.clock import studio_today
from common.transitions import locked_transition

Status = Payment.Status

ALLOWED_TRANSITIONS = {
    Status.PENDING: {Status.PAID, Status.OVERDUE, Status.CANCELLED},
    Status.OVERDUE: {Status.PAID, Status.CANCELLED},
    Status.PAID: set(),
    Status.CANCELLED: set(),
}


def payment_create(
    *,
    client,
    amount: Decimal,
    due_date: date,
    session=None,
    description: str = "",
    method: str = "",
) -> Payment:
    payment = Payment(
        client=client,
        amount=amount,
        due_date=due_date,
        session=session,
        description=description,
        method=method,
    )
    return payment_save(payment=payment)


@transaction.atomic
def payment_save(*, payment: Payment) -> Payment:
    """Validate and save; a new payment whose due date has passed is overdue at once."""
    if payment._state.adding and payment.status == Status.PENDING and payment.due_date < studio_today():
        payment.status = Status.OVERDUE
        payment.overdue_at = timezone.now()
    payment.full_clean(exclude=["client", "session"])
    payment.save()
    return payment


@transaction.atomic
def payment_mark_paid(
    *, payment: Payment, paid_at: datetime | None = None, method: str = "", reference: str = ""
) -> Payment:
    """The whole outstanding balance has been received."""
    locked_transition(payment, Status.PAID, ALLOWED_TRANSITIONS)
    payment.status = Status.PAID
    payment.paid_at = paid_at or timezone.now()
    payment.amount_paid = payment.amount
    if method:
        payment.method = method
    if reference:
        payment.reference = reference
    payment.save(update_fields=["status", "paid_at", "amount_paid", "method", "reference", "updated_at"])
    return payment


@transaction.atomic
def payment_cancel(*, payment: Payment) -> Payment:
    locked_transition(payment, Status.CANCELLED, ALLOWED_TRANSITIONS)
    payment.status = Status.CANCELLED
    payment.save(update_fields=["status", "updated_at"])
    return payment


@transaction.atomic
def payment_mark_overdue(*, payment: Payment, at: datetime | None = None) -> Payment:
    locked_transition(payment, Status.OVERDUE, ALLOWED_TRANSITIONS)
    # Overdue means the due date has passed on the studio's calendar, as for the daily scan.
    if payment.due_date >= studio_today(at):
        raise ValidationError(
            f"This payment is due on {payment.due_date:%a %d %b %Y}: it cannot be overdue "
            "before that day has passed.",
            code="not_due",
        )
    payment.status = Status.OVERDUE
    payment.overdue_at = at or timezone.now()
    # save(): turning overdue is an event automation listens for.
    payment.save(update_fields=["status", "overdue_at", "updated_at"])
    return payment
