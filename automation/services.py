"""Event triggers: what a saved Session or Payment means for the rules.

``handle_event`` runs in the worker (enqueued by ``automation.signals`` after
commit), never inside the request that saved the row.
"""

from datetime import datetime, timedelta

from django.db.models import Q
from django.utils import timezone

from automation import engine
from automation.engine import FireResult, Occurrence
from automation.models import AutomationRule, TriggerEvent
from billing.credits import packages_with_credits
from billing.models import ClientPackage, Payment
from scheduling.models import Session

# What the signal saw (the event names rules use, plus a session being moved).
SESSION_CREATED = TriggerEvent.SESSION_CREATED.value
SESSION_MOVED = "session_moved"
SESSION_CANCELLED = TriggerEvent.SESSION_CANCELLED.value
SESSION_NO_SHOW = TriggerEvent.SESSION_NO_SHOW.value
SESSION_LATE_CANCELLED = TriggerEvent.SESSION_LATE_CANCELLED.value
PAYMENT_CREATED = "payment_created"
PAYMENT_TURNED_OVERDUE = "payment_turned_overdue"
PACKAGE_CREDITS_TAKEN = "package_credits_taken"

_RULE_EVENTS = {
    SESSION_CREATED: (TriggerEvent.SESSION_CREATED, TriggerEvent.SESSION_SCHEDULED),
    SESSION_MOVED: (TriggerEvent.SESSION_SCHEDULED, TriggerEvent.SESSION_MOVED),
    SESSION_CANCELLED: (TriggerEvent.SESSION_CANCELLED,),
    SESSION_NO_SHOW: (TriggerEvent.SESSION_NO_SHOW,),
    SESSION_LATE_CANCELLED: (TriggerEvent.SESSION_LATE_CANCELLED,),
    PAYMENT_CREATED: (TriggerEvent.PAYMENT_DUE, TriggerEvent.PAYMENT_OVERDUE),
    PAYMENT_TURNED_OVERDUE: (TriggerEvent.PAYMENT_OVERDUE,),
    PACKAGE_CREDITS_TAKEN: (TriggerEvent.PACKAGE_LOW,),
}
SESSION_EVENTS = {SESSION_CREATED, SESSION_MOVED, SESSION_CANCELLED, SESSION_NO_SHOW, SESSION_LATE_CANCELLED}
LATE_SKIP_REASON = "booked inside the reminder window (the rule skips late bookings)"


def handle_event(
    *, event: str, pk: int, at: datetime | None = None, now: datetime | None = None
) -> FireResult:
    """Fire the active rules ``event`` concerns. ``at``: when the row was saved."""
    now = now or timezone.now()
    at = at or now
    # A rule never fires for what happened before it existed (a worker that runs late included).
    rules = list(
        AutomationRule.objects.filter(
            is_active=True, trigger_event__in=_RULE_EVENTS[event], created_at__lte=at
        )
    )
    if not rules:
        return FireResult()
    if event in SESSION_EVENTS:
        session = Session.objects.select_related("client").filter(pk=pk).first()
        occurrences = _session_occurrences(event, session, rules, at=at, now=now) if session else []
    elif event == PACKAGE_CREDITS_TAKEN:
        package = packages_with_credits(ClientPackage.objects.select_related("client")).filter(pk=pk).first()
        occurrences = _package_low_occurrences(package, rules) if package else []
    else:
        payment = Payment.objects.select_related("client").filter(pk=pk).first()
        occurrences = _payment_occurrences(event, payment, rules) if payment else []
    return engine.fire_occurrences(occurrences, now=now)


def _session_occurrences(event, session, rules, *, at, now):
    found = []
    for rule in rules:
        if not rule.in_scope(session.client):
            continue
        common = {"rule": rule, "client_id": session.client_id, "session_id": session.pk}
        if rule.trigger_event == TriggerEvent.SESSION_CREATED:
            # The sessions booked with this one (its weekly series; with the rule's merge
            # window, the client's other bookings of those minutes) are confirmed in one
            # message; each keeps its own once-only key, so their own events find them fired.
            for booked in _booked_together(session, rule, now=now):
                found.append(
                    Occurrence(
                        key=engine.session_created_key(booked.pk),
                        rule=rule,
                        client_id=booked.client_id,
                        session_id=booked.pk,
                        group=f"series:{booked.series}" if booked.series else "",
                    )
                )
        elif rule.trigger_event == TriggerEvent.SESSION_CANCELLED:
            found.append(Occurrence(key=engine.session_cancelled_key(session.pk), **common))
        elif rule.trigger_event in engine.CHARGE_EVENTS:
            # Once per session: billing applies its policy to a session once, and so do the rules.
            found.append(Occurrence(key=engine.session_charge_key(session.pk, rule.trigger_event), **common))
        elif rule.trigger_event == TriggerEvent.SESSION_MOVED and event == SESSION_MOVED:
            # One message per move: the sequence numbers the session's times.
            found.append(
                Occurrence(
                    key=engine.session_moved_key(session.pk, session.sequence),
                    expect_sequence=session.sequence,
                    **common,
                )
            )
        elif rule.trigger_event == TriggerEvent.SESSION_SCHEDULED:
            # Booked (or moved) after its reminder time: the rule's late-booking policy
            # decides. Reminders still ahead are the scan's.
            booked_at = session.created_at if event == SESSION_CREATED else at
            remind_at = session.starts_at - timedelta(hours=rule.offset_hours)
            if remind_at <= booked_at and session.starts_at > now:
                skip = rule.late_booking == AutomationRule.LateBooking.SKIP
                found.append(
                    Occurrence(
                        key=engine.session_start_key(session.pk, session.starts_at),
                        expect_start=session.starts_at,
                        skip_reason=LATE_SKIP_REASON if skip else "",
                        **common,
                    )
                )
    return found


def _booked_together(session, rule, *, now):
    """``session`` and the scheduled, not yet started sessions booked with it."""
    together = Q(series=session.series) if session.series else Q(pk=session.pk)
    if rule.merge_minutes:
        window = timedelta(minutes=rule.merge_minutes)
        together |= Q(
            created_at__gte=session.created_at - window, created_at__lte=session.created_at + window
        )
    siblings = Session.objects.filter(
        together, client_id=session.client_id, status=Session.Status.SCHEDULED, starts_at__gt=now
    ).order_by("starts_at")
    return [session] + [s for s in siblings if s.pk != session.pk]


def _payment_occurrences(event, payment, rules):
    found = []
    for rule in rules:
        if not rule.in_scope(payment.client):
            continue
        common = {"rule": rule, "client_id": payment.client_id, "payment_id": payment.pk}
        if rule.trigger_event == TriggerEvent.PAYMENT_DUE and payment.status == Payment.Status.PENDING:
            found.append(
                Occurrence(
                    key=engine.payment_created_key(payment.pk), expect_status=Payment.Status.PENDING, **common
                )
            )
        elif (
            rule.trigger_event == TriggerEvent.PAYMENT_OVERDUE
            and rule.offset_hours == 0
            and payment.status == Payment.Status.OVERDUE
        ):
            # Later escalation steps count from overdue_at: the scan fires them.
            found.append(
                Occurrence(
                    key=engine.payment_overdue_key(payment.pk, 0),
                    expect_status=Payment.Status.OVERDUE,
                    **common,
                )
            )
    return found


def _package_low_occurrences(package, rules):
    """Each ``package_low`` rule whose threshold the package's credits left have reached.

    Once per package and threshold (the key): credits given back and spent again do
    not tell the client twice.
    """
    return [
        Occurrence(
            key=engine.package_low_key(package.pk, rule.credits_threshold),
            rule=rule,
            client_id=package.client_id,
            package_id=package.pk,
        )
        for rule in rules
        if rule.in_scope(package.client) and package.credits_left <= rule.credits_threshold
    ]
