"""Previews and test sends for the admin: a rule rendered against a real recent
object (the most recent one the rule could fire for, among the viewer's own
clients) or, failing that, sample values. Personal links are always samples:
staff must not see or forward a client's live portal or unsubscribe link."""

from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.utils import timezone

from automation.models import AutomationRule, TriggerEvent
from automation.templating import CHARGE_EVENTS, PACKAGE_EVENTS, sample_context, validate_for_event
from billing.credits import packages_with_credits
from billing.models import ClientPackage, Payment, SessionCharge
from clients.models import Channel, Client
from clients.roles import is_manager
from common.timefmt import staff_datetime
from messaging import templating
from messaging.models import Message
from messaging.services import send_test_email
from scheduling.models import Session


@dataclass
class Preview:
    subject: str
    body: str
    source: str  # what it was rendered against, in words
    error: str = ""


def recent_target(rule: AutomationRule, *, viewer_trainer_id=None):
    """(client, session, payment, charge) of a recent real object for this rule, or None.

    ``viewer_trainer_id``: a trainer looking at the rule only ever sees their own clients.
    """
    if rule.trainer_id and viewer_trainer_id and rule.trainer_id != viewer_trainer_id:
        return None
    trainer_id = viewer_trainer_id or rule.trainer_id
    event = rule.trigger_event
    scope = {} if trainer_id is None else {"client__trainer_id": trainer_id}
    if event in CHARGE_EVENTS:
        kind = (
            SessionCharge.Kind.NO_SHOW
            if event == TriggerEvent.SESSION_NO_SHOW
            else SessionCharge.Kind.LATE_CANCEL
        )
        charge = (
            SessionCharge.objects.filter(kind=kind, **scope)
            .select_related("client__trainer", "session__trainer", "fee_payment")
            .order_by("-created_at")
            .first()
        )
        return (charge.client, charge.session, charge.fee_payment, charge) if charge else None
    if event in (
        TriggerEvent.SESSION_CREATED,
        TriggerEvent.SESSION_SCHEDULED,
        TriggerEvent.SESSION_CANCELLED,
        TriggerEvent.SESSION_MOVED,
    ):
        status = (
            Session.Status.CANCELLED if event == TriggerEvent.SESSION_CANCELLED else Session.Status.SCHEDULED
        )
        qs = Session.objects.filter(status=status, **scope).select_related("client__trainer", "trainer")
        session = qs.order_by("-created_at").first()
        return (session.client, session, None, None) if session else None
    if event in (TriggerEvent.PAYMENT_DUE, TriggerEvent.PAYMENT_OVERDUE):
        status = Payment.Status.OVERDUE if event == TriggerEvent.PAYMENT_OVERDUE else Payment.Status.PENDING
        payment = (
            Payment.objects.filter(status=status, **scope)
            .select_related("client__trainer")
            .order_by("-created_at")
            .first()
        )
        return (payment.client, None, payment, None) if payment else None
    client_scope = {} if trainer_id is None else {"trainer_id": trainer_id}
    client = (
        Client.objects.filter(birth_date__isnull=False, **client_scope)
        .select_related("trainer")
        .order_by("-created_at")
        .first()
    )
    return (client, None, None, None) if client else None


def recent_package(rule: AutomationRule, *, viewer_trainer_id=None):
    """The most recently sold package this rule could speak of (scoped like ``recent_target``)."""
    if rule.trainer_id and viewer_trainer_id and rule.trainer_id != viewer_trainer_id:
        return None
    trainer_id = viewer_trainer_id or rule.trainer_id
    scope = {} if trainer_id is None else {"client__trainer_id": trainer_id}
    return (
        packages_with_credits(ClientPackage.objects.filter(**scope))
        .select_related("client__trainer", "package_type")
        .order_by("-created_at", "-pk")
        .first()
    )


def preview(rule: AutomationRule, *, viewer_trainer_id=None) -> Preview:
    try:
        subject_tpl = validate_for_event(rule.subject_template or "", rule.trigger_event)
        body_tpl = validate_for_event(rule.body_template, rule.trigger_event)
    except ValidationError as exc:
        return Preview("", "", "", error=" ".join(exc.messages))
    target = recent_target(rule, viewer_trainer_id=viewer_trainer_id)
    package = None
    if rule.trigger_event in PACKAGE_EVENTS:
        package = recent_package(rule, viewer_trainer_id=viewer_trainer_id)
        target = None
    if package is not None:
        names = templating.used_variables(subject_tpl) | templating.used_variables(body_tpl)
        context = templating.context_for(
            client=package.client, package=package, names=names, sample_links=True
        )
        source = f"the package “{package}” (the most recent one)"
    elif target:
        client, session, payment, charge = target
        names = templating.used_variables(subject_tpl) | templating.used_variables(body_tpl)
        context = templating.context_for(
            client=client, session=session, payment=payment, charge=charge, names=names, sample_links=True
        )
        what = session or payment or client
        source = f"{what._meta.verbose_name} “{what}” (the most recent one)"
    else:
        context = sample_context(rule.trigger_event)
        source = "sample values (no real object yet)"
    try:
        return Preview(templating.render(subject_tpl, context), templating.render(body_tpl, context), source)
    except ValidationError as exc:  # a rule saved before its filters were checked
        return Preview("", "", source, error=" ".join(exc.messages))


def viewer_trainer_id(user) -> int | None:
    """Whose clients a preview may show: ``None`` (anyone's) for managers, else the trainer's own."""
    return None if is_manager(user) else user.pk


def send_test(*, rule: AutomationRule, user) -> Message:
    """Email the rule's preview to the staff member (``messaging.services.send_test_email``).

    Raises ``ValidationError`` when the rule's templates do not render or the
    user has no email address.
    """
    result = preview(rule, viewer_trainer_id=viewer_trainer_id(user))
    if result.error:
        raise ValidationError(result.error)
    channel = Channel(rule.channel).label
    body = (
        f"{result.body}\n\n---\nTest of the automation rule “{rule.name}” ({channel}), "
        f"rendered with {result.source}, {staff_datetime(timezone.now())}."
    )
    return send_test_email(user=user, subject=result.subject or rule.name, body=body)
