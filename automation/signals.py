"""Thin receivers: decide which event a save is, and enqueue its handling after commit.

Nothing is rendered or sent here. The previous status and start are remembered
when a row is loaded (``post_init``), so detecting a change costs no query.
Bookkeeping writes use ``.update()``, which fires no signal at all.
"""

from datetime import datetime

from django.db import transaction
from django.db.models.signals import post_init, post_save
from django.utils import timezone

from automation import services
from billing.models import CreditEntry, Payment, SessionCharge
from common.queue import enqueue
from scheduling.models import Session

HANDLE_EVENT_TASK = "automation.tasks.handle_event"


def enqueue_event(event: str, pk: int, at: datetime):
    enqueue(HANDLE_EVENT_TASK, event, pk, at.isoformat(), task_name=f"automation: {event} {pk}")


def _on_commit(event, pk):
    at = timezone.now()

    def enqueue_after_commit():
        enqueue_event(event, pk, at)

    # robust: a broker hiccup must not turn a committed booking into an error page.
    transaction.on_commit(enqueue_after_commit, robust=True)


def _seen(instance, *names):
    # __dict__, not getattr: reading a deferred field would cost a query.
    return tuple(instance.__dict__.get(name) for name in names)


def remember_session(sender, instance, **kwargs):
    instance._automation_seen = _seen(instance, "status", "starts_at", "duration_minutes")


def remember_payment(sender, instance, **kwargs):
    instance._automation_seen = _seen(instance, "status")


def session_saved(sender, instance, created, raw=False, **kwargs):
    if raw:
        return
    before_status, before_start, before_duration = getattr(instance, "_automation_seen", (None, None, None))
    status, starts_at, duration = instance._automation_seen = _seen(
        instance, "status", "starts_at", "duration_minutes"
    )
    if created:
        _on_commit(services.SESSION_CREATED, instance.pk)
        return
    if before_status and status != before_status and status == Session.Status.CANCELLED:
        _on_commit(services.SESSION_CANCELLED, instance.pk)
    moved = (before_start and starts_at and starts_at != before_start) or (
        before_duration and duration and duration != before_duration
    )
    if moved and status == Session.Status.SCHEDULED:
        _on_commit(services.SESSION_MOVED, instance.pk)


def payment_saved(sender, instance, created, raw=False, **kwargs):
    if raw:
        return
    (before_status,) = getattr(instance, "_automation_seen", (None,))
    (status,) = instance._automation_seen = _seen(instance, "status")
    if created:
        _on_commit(services.PAYMENT_CREATED, instance.pk)
    elif before_status and status != before_status and status == Payment.Status.OVERDUE:
        _on_commit(services.PAYMENT_TURNED_OVERDUE, instance.pk)


def charge_saved(sender, instance, created, raw=False, **kwargs):
    # One charge row per session, ever (billing's policy): its creation is the no-show
    # or late cancellation the rules hear of, once.
    if raw or not created:
        return
    event = (
        services.SESSION_NO_SHOW
        if instance.kind == SessionCharge.Kind.NO_SHOW
        else services.SESSION_LATE_CANCELLED
    )
    _on_commit(event, instance.session_id)


def credit_entry_saved(sender, instance, created, raw=False, **kwargs):
    # Credits taken (a spend, a staff correction): the package may have run low.
    # An expiry empties the package too, but there is nothing left to warn about.
    if raw or not created or instance.delta >= 0 or instance.kind == CreditEntry.Kind.EXPIRY:
        return
    _on_commit(services.PACKAGE_CREDITS_TAKEN, instance.package_id)


def connect():
    post_init.connect(remember_session, sender=Session, dispatch_uid="automation.remember_session")
    post_init.connect(remember_payment, sender=Payment, dispatch_uid="automation.remember_payment")
    post_save.connect(session_saved, sender=Session, dispatch_uid="automation.session_saved")
    post_save.connect(payment_saved, sender=Payment, dispatch_uid="automation.payment_saved")
    post_save.connect(charge_saved, sender=SessionCharge, dispatch_uid="automation.charge_saved")
    post_save.connect(credit_entry_saved, sender=CreditEntry, dispatch_uid="automation.credit_entry_saved")
