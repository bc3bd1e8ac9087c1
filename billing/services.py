"""Payments: creating them, money received (receipts) and status changes; impossible
transitions and amounts are refused with a clear error."""

from datetime import date, datetime, timedelta
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, Max
from django.utils import timezone

from billing.models import Payment, Receipt, ReceiptSequence
from billing.selectors import OPEN_STATUSES
from common.clock import studio_today
from common.money import format_amount
from common.transitions import locked_transition

Status = Payment.Status

ALLOWED_TRANSITIONS = {
    Status.PENDING: {Status.PAID, Status.OVERDUE, Status.CANCELLED},
    Status.OVERDUE: {Status.PAID, Status.CANCELLED},
    Status.PAID: set(),
    Status.CANCELLED: set(),
}


#: What staff may change on an existing payment (``payment_save``).
EDITABLE_FIELDS = ("client", "session", "amount", "due_date", "method", "reference", "description")


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
    if payment._state.adding:
        payment.full_clean(exclude=["client", "session"])
        payment.save()
        return payment
    amount, received = (
        Payment.objects.select_for_update().values_list("amount", "amount_paid").get(pk=payment.pk)
    )
    if received and payment.amount != amount:
        # The receipts add up to what was asked; a new amount would leave them paying
        # for something else (or for more than is owed).
        raise ValidationError(
            {
                "amount": f"{format_amount(received, payment.currency)} has already been received "
                "on this payment, so its amount cannot change."
            },
            code="amount_received",
        )
    payment.amount_paid = received  # as the row has it (the form may have been opened before)
    payment.full_clean(exclude=["client", "session"])
    # Only what staff edit: the status and the money received change through their own
    # services, and a form opened before a receipt was recorded must not write them back.
    payment.save(update_fields=[*EDITABLE_FIELDS, "updated_at"])
    return payment


# --- Money received ----------------------------------------------------------------------

CENT = Decimal("0.01")


@transaction.atomic
def payment_record_receipt(
    *,
    payment: Payment,
    amount: Decimal,
    paid_at: datetime | None = None,
    method: str = "",
    reference: str = "",
    recorded_by=None,
) -> Receipt:
    """``amount`` of the payment has been received: a numbered receipt, and the payment
    paid once nothing is left to pay (``paid_at`` then is when this last part arrived).

    Refused with a ``ValidationError``: a payment that is paid or cancelled, an amount
    that is not positive, has more than two decimals or is more than is still owed,
    a receipt dated in the future.
    """
    _lock_amounts(payment)
    if payment.status not in OPEN_STATUSES:
        raise ValidationError(
            f"This payment is {payment.get_status_display().lower()}: there is nothing left to receive.",
            code="not_open",
        )
    return _receive(
        payment,
        amount=amount,
        paid_at=paid_at,
        method=method,
        reference=reference,
        recorded_by=recorded_by,
    )


@transaction.atomic
def payment_mark_paid(
    *,
    payment: Payment,
    paid_at: datetime | None = None,
    method: str = "",
    reference: str = "",
    recorded_by=None,
) -> Payment:
    """The whole outstanding balance has been received (one receipt for it)."""
    locked_transition(payment, Status.PAID, ALLOWED_TRANSITIONS)
    _lock_amounts(payment)
    _receive(
        payment,
        amount=payment.amount - payment.amount_paid,
        paid_at=paid_at,
        method=method,
        reference=reference,
        recorded_by=recorded_by,
    )
    return payment


def _lock_amounts(payment: Payment) -> None:
    """Refresh the status and amounts from the payment's row, locked until the transaction
    ends: two receipts recorded at once on one payment take turns, and the second sees
    what the first received."""
    row = Payment.objects.select_for_update().values("status", "amount", "amount_paid").get(pk=payment.pk)
    payment.status, payment.amount, payment.amount_paid = row["status"], row["amount"], row["amount_paid"]


def _receive(payment: Payment, *, amount, paid_at, method, reference, recorded_by) -> Receipt:
    # Called with the payment row locked and its amounts fresh (_lock_amounts).
    balance = payment.amount - payment.amount_paid
    amount = Decimal(amount)
    if amount <= 0:
        raise ValidationError({"amount": "The amount received must be greater than zero."}, code="amount")
    if amount != amount.quantize(CENT):
        raise ValidationError({"amount": "Enter the amount in whole pennies (two decimals at most)."})
    if amount > balance:
        raise ValidationError(
            {
                "amount": f"{format_amount(amount, payment.currency)} is more than the "
                f"{format_amount(balance, payment.currency)} still owed on this payment."
            },
            code="overpayment",
        )
    now = timezone.now()
    paid_at = paid_at or now
    if paid_at > now + timedelta(minutes=5):  # a few minutes' leeway for clocks
        raise ValidationError({"paid_at": "Money cannot be received in the future."}, code="future")
    receipt = Receipt.objects.create(
        payment=payment,
        number=_next_receipt_number(),
        amount=amount,
        paid_at=paid_at,
        method=method or payment.method,
        reference=reference,
        recorded_by=recorded_by,
    )
    payment.amount_paid += amount
    if method:
        payment.method = method
    if reference:
        payment.reference = reference
    fields = ["amount_paid", "method", "reference", "updated_at"]
    if payment.amount_paid == payment.amount:
        payment.status = Status.PAID
        payment.paid_at = paid_at
        fields += ["status", "paid_at"]
    # save() rather than update(): turning paid is a change others may listen for.
    payment.save(update_fields=fields)
    return receipt


def _next_receipt_number() -> int:
    """The next number of the studio's series; the counter row stays locked until the
    caller's transaction ends, so no other receipt can be given the same number."""
    counter = ReceiptSequence.objects.filter(pk=1)
    if not counter.update(last_number=F("last_number") + 1):
        # The migration creates the row; a database flushed since (tests) starts it again
        # after the highest number given. ON CONFLICT DO NOTHING: of two first receipts
        # at once, the second waits for the first's row instead of failing.
        highest = Receipt.objects.aggregate(highest=Max("number"))["highest"] or 0
        ReceiptSequence.objects.bulk_create(
            [ReceiptSequence(pk=1, last_number=highest)], ignore_conflicts=True
        )
        counter.update(last_number=F("last_number") + 1)
    return counter.values_list("last_number", flat=True).get()


def receipt_claim_email(*, receipt: Receipt, at: datetime, only_if_never: bool = False) -> bool:
    """Note that ``receipt`` was emailed at ``at``. ``only_if_never``: only if it never was
    (a conditional update, the automatic email's once-only claim). True if noted."""
    receipts = Receipt.objects.filter(pk=receipt.pk)
    if only_if_never:
        receipts = receipts.filter(emailed_at__isnull=True)
    if receipts.update(emailed_at=at):
        receipt.emailed_at = at
        return True
    return False


@transaction.atomic
def payment_cancel(*, payment: Payment) -> Payment:
    """Nothing more is owed. Money already received stays recorded: its receipts are kept
    and ``amount_paid`` is unchanged, so cancelling a part-paid payment writes off the rest."""
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
