"""Thin receivers: what billing does when a session's status changes.

Called inside the status change's transaction with the session row locked
(``scheduling.signals.session_status_changed``), so a credit spent or returned
commits or rolls back with the change itself. The rules are in the services
(``billing.credits``; the no-show and late-cancel policy adds its own calls here).
"""

from datetime import timedelta

from django.conf import settings

from billing import credits
from scheduling.models import Session
from scheduling.signals import session_status_changed

Status = Session.Status


def cancelled_in_time(session: Session) -> bool:
    """Cancelled at least ``CANCELLATION_NOTICE_HOURS`` before it was due to start."""
    if not session.cancelled_at:
        return True
    return session.cancelled_at <= session.starts_at - timedelta(hours=settings.CANCELLATION_NOTICE_HOURS)


def on_session_status_changed(sender, *, session, old_status, new_status, **kwargs):
    if new_status == Status.COMPLETED:
        credits.credit_spend(session=session, reason=credits.Reason.COMPLETED)
    elif new_status == Status.CANCELLED and cancelled_in_time(session):
        credits.credit_return(session=session, reason=credits.Reason.CANCELLED_IN_TIME)
    # COMPLETED → NO_SHOW keeps the credit spent on completion: what a no-show costs
    # (and whether it is given back) is the no-show policy's decision.


def connect():
    session_status_changed.connect(
        on_session_status_changed, sender=Session, dispatch_uid="billing.on_session_status_changed"
    )
