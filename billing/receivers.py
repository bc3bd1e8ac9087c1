"""Thin receivers: what billing does when a session's status changes.

Called inside the status change's transaction with the session row locked
(``scheduling.signals.session_status_changed``), so a credit spent or returned, or a
no-show / late-cancel charge, commits or rolls back with the change itself. The rules
are in the services (``billing.credits``, ``billing.charges``).
"""

from billing import charges, credits
from scheduling.models import Session
from scheduling.signals import session_status_changed

Status = Session.Status


def cancelled_in_time(session: Session) -> bool:
    """Cancelled before the studio policy's late-cancel window opened."""
    if not session.cancelled_at:
        return True
    return session.cancelled_at < charges.late_cancel_deadline(session)


def on_session_status_changed(sender, *, session, old_status, new_status, **kwargs):
    if new_status == Status.COMPLETED:
        credits.credit_spend(session=session, reason=credits.Reason.COMPLETED)
    elif new_status == Status.CANCELLED and cancelled_in_time(session):
        credits.credit_return(session=session, reason=credits.Reason.CANCELLED_IN_TIME)
    # A no-show, a late cancellation by the client, a no-show corrected to completed:
    # the policy's charge (it decides whether a credit held from completion stays spent).
    charges.on_status_changed(session=session, old_status=old_status, new_status=new_status)


def connect():
    session_status_changed.connect(
        on_session_status_changed, sender=Session, dispatch_uid="billing.on_session_status_changed"
    )
