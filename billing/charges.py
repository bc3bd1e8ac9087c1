"""The no-show and late-cancel policy at work: decide, apply once, waive, undo.

``policy_apply`` runs inside the transaction of the session's status change
(``billing.receivers``), with the session row locked, so the charge commits or rolls
back with the change itself. It is once per session: the charge row's unique session
is the guard, and a waived charge stays (waived), so nothing ever applies twice.

Who decides what is late: a cancellation is late when it comes less than the policy's
window before the start. A client's own cancellation (the portal) inside the window is
charged as late. Staff cancellations are free unless the staff member records it as
the client's late cancellation (the session admin's *Cancel: the client cancelled late*
action, the dashboard's *Late cancel* button): the session is then cancelled *by the
client*, and the same rule applies.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone

from billing import credits
from billing import services as payment_services
from billing.models import Payment
from billing.policy import Charge, SessionCharge, StudioPolicy
from common.clock import studio_today, studio_tz
from common.money import format_amount
from scheduling.models import Session

Kind = SessionCharge.Kind
Outcome = SessionCharge.Outcome

WAIVE_REASON_MAX_LENGTH = 500
CORRECTED_REASON = "Corrected: the session took place (marked completed)."
#: First key of the per-client advisory lock (any constant no other code uses).
ADVISORY_LOCK_NAMESPACE = 1401


# --- The studio's settings -----------------------------------------------------------------


def studio_policy() -> StudioPolicy:
    """The studio's policy: its row, or until a manager first saves it, the defaults
    (the settings' window and note; nothing charged, no free ones), unsaved — reading
    the policy never writes, so a page view cannot add a row."""
    return StudioPolicy.objects.filter(pk=1).first() or StudioPolicy(
        pk=1,
        late_cancel_window_hours=settings.CANCELLATION_NOTICE_HOURS,
        client_note=settings.CANCELLATION_POLICY_TEXT,
    )


def late_cancel_deadline(session: Session, policy: StudioPolicy | None = None) -> datetime:
    """Until this moment the client may cancel (or move) ``session`` for free."""
    policy = policy or studio_policy()
    return session.starts_at - timedelta(hours=policy.late_cancel_window_hours)


def is_late(session: Session, *, at: datetime | None = None, policy: StudioPolicy | None = None) -> bool:
    return (at or timezone.now()) >= late_cancel_deadline(session, policy)


def _hours(n: int) -> str:
    return f"{n} hour{'' if n == 1 else 's'}"


def _cost_phrase(charge: str, fee: Decimal | None, percent: int | None) -> str:
    if charge == Charge.CREDIT:
        return "uses one session credit"
    if charge == Charge.FEE_FIXED and fee:
        return f"costs {format_amount(fee, settings.CURRENCY)}"
    if charge == Charge.FEE_PERCENT and percent:
        return f"costs {percent}% of the session's price"
    return ""


def policy_text(policy: StudioPolicy | None = None) -> str:
    """The policy in the words the portal shows clients, always true to the settings."""
    policy = policy or studio_policy()
    hours = policy.late_cancel_window_hours
    sentences = [
        f"Sessions can be cancelled free of charge up to {_hours(hours)} before they start."
        if hours
        else "Sessions can be cancelled free of charge until they start."
    ]
    late = _cost_phrase(*policy.charge_for(Kind.LATE_CANCEL))
    missed = _cost_phrase(*policy.charge_for(Kind.NO_SHOW))
    if late:
        sentences.append(f"A later cancellation {late}.")
    if missed:
        sentences.append(f"A missed session {missed}.")
    if policy.grace_count and (late or missed):
        what = " or ".join(w for w, on in (("late cancellation", late), ("missed session", missed)) if on)
        if policy.grace_count == 1:
            sentences.append(f"Your first {what} in any {policy.grace_days} days is free.")
        else:
            sentences.append(
                f"Your first {policy.grace_count} {what.replace('cancellation', 'cancellations')}"
                f"{'s' if what.endswith('session') else ''} in any {policy.grace_days} days are free."
            )
    if not policy.clients_may_cancel_late:
        sentences.append("For later changes, please contact the studio.")
    if policy.client_note.strip():
        sentences.append(policy.client_note.strip())
    return " ".join(sentences)


# --- Deciding -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Decision:
    """What the policy does about one incident (before anything is written)."""

    outcome: str
    amount: Decimal | None = None
    note: str = ""
    #: For a free one: (how many are free, in how many days).
    grace: tuple[int, int] | None = None

    def for_client(self) -> str:
        """The cost in a client's words ("a fee of £20.00 applies")."""
        if self.outcome == Outcome.FEE:
            return f"a fee of {format_amount(self.amount, settings.CURRENCY)} applies"
        if self.outcome == Outcome.CREDIT:
            return "one session credit will be used"
        if self.outcome == Outcome.FREE:
            count, days = self.grace
            first = "your first one" if count == 1 else f"your first {count}"
            return f"it is free this time ({first} in any {days} days)"
        return "there is no charge"


def _ordinal(n: int) -> str:
    return {1: "first", 2: "second", 3: "third"}.get(n, f"{n}th")


def _earlier_incidents(session: Session, *, at: datetime, days: int) -> int:
    """The client's late cancellations and no-shows recorded in the ``days`` before ``at``.

    Waived ones count (they happened; staff forgave the cost); corrected no-shows do not
    (the client came).
    """
    return (
        SessionCharge.objects.filter(
            client_id=session.client_id, created_at__gt=at - timedelta(days=days), created_at__lte=at
        )
        .exclude(session_id=session.pk)
        .exclude(corrected=True)
        .count()
    )


def _credit_available(session: Session) -> bool:
    """Does the session hold a credit already (from its completion), or could it take one?"""
    if credits.open_spend(session) is not None:
        return True
    packages = credits.packages_with_credits(
        credits.usable_packages(session.client, on=credits.session_day(session))
    ).select_related("package_type")
    return any(p.credits_left > 0 and credits.covers(p.package_type, session) for p in packages)


def decide(
    session: Session, kind: str, *, policy: StudioPolicy | None = None, at: datetime | None = None
) -> Decision:
    """What the policy would do about ``session``'s ``kind`` now. Reads only."""
    policy = policy or studio_policy()
    at = at or timezone.now()
    charge, fee, percent = policy.charge_for(kind)
    label = Kind(kind).label.lower()
    if charge == Charge.NOTHING:
        return Decision(Outcome.NOTHING, note=f"The policy charges nothing for a {label}.")
    if policy.grace_count:
        earlier = _earlier_incidents(session, at=at, days=policy.grace_days)
        if earlier < policy.grace_count:
            return Decision(
                Outcome.FREE,
                note=f"Free: the client's {_ordinal(earlier + 1)} late cancellation or no-show in "
                f"{policy.grace_days} days ({policy.grace_count} free).",
                grace=(policy.grace_count, policy.grace_days),
            )
    if charge == Charge.CREDIT:
        if not _credit_available(session):
            # Credits never go below zero without staff saying so (the package's Adjust credits).
            return Decision(
                Outcome.NOTHING,
                note="No credit used: the client has no credit left that covers this session.",
            )
        return Decision(Outcome.CREDIT, note="One session credit, as the policy says.")
    if charge == Charge.FEE_FIXED:
        return Decision(Outcome.FEE, amount=fee, note=f"Fixed {label} fee.")
    price = session.session_type.price if session.session_type_id else None
    if not price:
        return Decision(
            Outcome.NOTHING,
            note=f"No fee: {percent}% of the price was due, but the session has no price "
            "(no session type, or its type has none).",
        )
    amount = (price * percent / 100).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    if amount <= 0:
        return Decision(Outcome.NOTHING, note=f"No fee: {percent}% of {price} rounds to nothing.")
    return Decision(
        Outcome.FEE,
        amount=amount,
        note=f"{percent}% of the session's price ({format_amount(price, settings.CURRENCY)}).",
    )


# --- Applying -----------------------------------------------------------------------------------


def _lock_client_incidents(client_id: int) -> None:
    """Serialise policy decisions for one client until the transaction ends.

    Two of her sessions marked no-show at once must not both take the last free one.
    A transaction-level advisory lock: it takes no row lock, so it cannot deadlock
    with bookings, which lock the client's row.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [ADVISORY_LOCK_NAMESPACE, client_id])


def _fee_description(session: Session, kind: str) -> str:
    local = session.starts_at.astimezone(studio_tz())
    what = "No-show fee" if kind == Kind.NO_SHOW else "Late-cancellation fee"
    name = f" ({session.session_type.name})" if session.session_type_id else ""
    return f"{what}: session on {local:%a %d %b %Y %H:%M}{name}"


@transaction.atomic
def policy_apply(*, session: Session, kind: str, at: datetime | None = None) -> SessionCharge:
    """Apply the policy to ``session``'s no-show or late cancellation, once.

    Returns the session's charge: the new one, or the one an earlier call made (a retry,
    a second worker, a no-show corrected and marked again) — that one is left as it is.
    """
    at = at or timezone.now()
    # The status change holds this lock already; a direct call takes it here.
    Session.objects.select_for_update().filter(pk=session.pk).values_list("pk").first()
    existing = SessionCharge.objects.filter(session_id=session.pk).first()
    if existing is not None:
        return existing
    _lock_client_incidents(session.client_id)
    policy = studio_policy()
    decision = decide(session, kind, policy=policy, at=at)
    charge = SessionCharge(session=session, client_id=session.client_id, kind=kind, note=decision.note)
    if decision.outcome == Outcome.FEE:
        charge.fee_payment = payment_services.payment_create(
            client=session.client,
            amount=decision.amount,
            due_date=studio_today(at) + timedelta(days=policy.fee_due_days),
            session=session,
            description=_fee_description(session, kind),
        )
    elif decision.outcome == Outcome.CREDIT:
        # The credit it holds already (a completed session marked no-show), else a new spend.
        charge.credit_entry = credits.open_spend(session) or credits.credit_spend(
            session=session,
            reason=credits.Reason.NO_SHOW if kind == Kind.NO_SHOW else credits.Reason.LATE_CANCEL,
        )
        if charge.credit_entry is None:  # taken a moment ago by another session of a shared package
            decision = Decision(
                Outcome.NOTHING,
                note="No credit used: the client has no credit left that covers this session.",
            )
    if decision.outcome != Outcome.CREDIT:
        # A completed session marked no-show holds the credit its completion spent: under
        # a policy that takes no credit, the client gets it back.
        credits.credit_return(
            session=session, reason=f"{Kind(kind).label.lower()}: the policy takes no credit"
        )
    charge.outcome = decision.outcome
    charge.note = decision.note
    charge.save()
    return charge


def late_cancel_applies(session: Session, *, policy: StudioPolicy | None = None) -> bool:
    """A cancellation the policy charges: by the client, inside the window."""
    return (
        session.status == Session.Status.CANCELLED
        and session.cancelled_by == Session.CancelledBy.CLIENT
        and session.cancelled_at is not None
        and is_late(session, at=session.cancelled_at, policy=policy)
    )


def on_status_changed(*, session: Session, old_status: str, new_status: str) -> None:
    """What a session's status change means for its charge (called by the receiver)."""
    if new_status == Session.Status.NO_SHOW:
        policy_apply(session=session, kind=Kind.NO_SHOW)
    elif new_status == Session.Status.CANCELLED and late_cancel_applies(session):
        policy_apply(session=session, kind=Kind.LATE_CANCEL, at=session.cancelled_at)
    elif old_status == Session.Status.NO_SHOW and new_status == Session.Status.COMPLETED:
        charge = SessionCharge.objects.filter(session_id=session.pk, kind=Kind.NO_SHOW).first()
        if charge is not None and not charge.is_waived:
            _undo(charge=charge, by=None, reason=CORRECTED_REASON, corrected=True)


# --- Waiving ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WaiveResult:
    charge: SessionCharge
    #: The fee was paid before the waive: the money stays recorded as received.
    fee_already_paid: bool = False
    #: Of an unpaid fee cancelled by the waive: what had been received on it (stays
    #: recorded with its receipts) and what was still owed (written off).
    fee_received: Decimal = Decimal("0.00")
    fee_written_off: Decimal = Decimal("0.00")


def _undo(*, charge: SessionCharge, by, reason: str, corrected: bool = False) -> WaiveResult:
    paid = False
    received = written_off = Decimal("0.00")
    if charge.credit_entry_id and not corrected:
        # Corrected to completed, the credit stays spent: it now pays for the session that took place.
        credits.credit_return(
            session=charge.session, reason=f"{charge.get_kind_display().lower()} waived", by=by
        )
    if charge.fee_payment_id:
        payment = Payment.objects.select_for_update().get(pk=charge.fee_payment_id)
        if payment.status == Payment.Status.PAID:
            # Received money is not un-received here: the studio refunds it its own way.
            paid = True
        elif payment.status != Payment.Status.CANCELLED:
            # A part-paid fee: what was received stays with its receipts, the rest is written off.
            received, written_off = payment.amount_paid, payment.balance
            payment_services.payment_cancel(payment=payment)
    charge.waived_at = timezone.now()
    charge.waived_by = by
    charge.waive_reason = reason
    charge.corrected = corrected
    charge.save(update_fields=["waived_at", "waived_by", "waive_reason", "corrected", "updated_at"])
    return WaiveResult(
        charge=charge, fee_already_paid=paid, fee_received=received, fee_written_off=written_off
    )


@transaction.atomic
def charge_waive(*, charge: SessionCharge, by, reason: str) -> WaiveResult:
    """Staff forgive a charge: the unpaid fee is cancelled; who and why are recorded.

    A fee already paid stays paid (``fee_already_paid``): the studio refunds it outside
    FitCRM. A waived charge stays on record and never applies again.
    """
    reason = " ".join((reason or "").split())
    if not reason:
        raise ValidationError({"reason": "Say why the charge is waived."}, code="reason_required")
    if len(reason) > WAIVE_REASON_MAX_LENGTH:
        raise ValidationError(
            {"reason": f"Keep the reason under {WAIVE_REASON_MAX_LENGTH} characters."}, code="too_long"
        )
    # The session's row first, as a status change takes it (a no-show corrected to completed
    # locks the session, then writes the charge): taking the charge first and the session
    # later (to give a credit back) deadlocked with such a correction.
    Session.objects.select_for_update().filter(pk=charge.session_id).values_list("pk").first()
    locked = SessionCharge.objects.select_for_update().get(pk=charge.pk)
    if locked.is_waived:
        raise ValidationError("This charge has already been waived.", code="already_waived")
    result = _undo(charge=locked, by=by, reason=reason)
    charge.refresh_from_db()
    return result
