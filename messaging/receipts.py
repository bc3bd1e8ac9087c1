"""Receipt emails: a receipt rendered from the studio's template and sent through the outbox.

Staff send one with the *Email receipt* action (payments and receipts); with the studio's
switch on (``ReceiptTemplate.send_automatically``) every new receipt is emailed once,
after the transaction that recorded it commits (``receipt_recorded`` → a django-q2 task).
A receipt is a notice (transactional): it goes to clients who take reminders and notices
by email, never to an unsubscribed, bounced or address-less one — checked here, so staff
hear why at once, and again by the delivery engine at send time.
"""

import logging

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from billing.models import Receipt
from billing.services import receipt_claim_email
from clients.models import Category, Channel
from common.queue import enqueue
from messaging import templating
from messaging.models import Message, ReceiptTemplate
from messaging.services import send_message

logger = logging.getLogger(__name__)

VARIABLES = templating.CLIENT_VARIABLES | templating.PAYMENT_VARIABLES | templating.RECEIPT_VARIABLES
EMAIL_RECEIPT_TASK = "messaging.tasks.email_receipt"


def validate_receipt_templates(*, subject: str, body: str) -> None:
    errors = {}
    for field, text in (("subject_template", subject), ("body_template", body)):
        if not (text or "").strip():
            errors[field] = "A receipt email needs a subject and a body."
            continue
        try:
            templating.validate_template(text, allowed=VARIABLES)
        except ValidationError as exc:
            errors[field] = exc.messages
    if errors:
        raise ValidationError(errors)


def receipt_template() -> ReceiptTemplate:
    """The studio's receipt email: its row, or until a manager first saves it, the default
    wording (switched off), unsaved — reading it never writes, so a page view adds no row."""
    return ReceiptTemplate.objects.filter(pk=1).first() or ReceiptTemplate(pk=1)


def render_receipt(receipt: Receipt, *, template: ReceiptTemplate | None = None) -> tuple[str, str]:
    """(subject, body) of ``receipt``'s email; ``ValidationError`` for a template that cannot render."""
    template = template or receipt_template()
    subject = templating.compile_template(template.subject_template)
    body = templating.compile_template(template.body_template)
    names = templating.used_variables(subject) | templating.used_variables(body)
    context = templating.context_for(
        client=receipt.payment.client, payment=receipt.payment, receipt=receipt, names=names
    )
    return templating.render(subject, context), templating.render(body, context)


@transaction.atomic
def receipt_email(*, receipt: Receipt, sent_by=None) -> Message:
    """Queue ``receipt``'s email to its client now (staff asked for it, again if need be).

    ``ValidationError`` when the client cannot receive it (no address, unsubscribed,
    bounced, no notices by email) or the template cannot render.
    """
    client = receipt.payment.client
    if reason := client.cannot_receive_reason(Channel.EMAIL, Category.TRANSACTIONAL):
        raise ValidationError(f"Not emailed: {reason}.", code="cannot_receive")
    subject, body = render_receipt(receipt)
    message = send_message(
        client=client,
        channel=Channel.EMAIL,
        subject=subject,
        body=body,
        category=Category.TRANSACTIONAL,
        payment=receipt.payment,
        sent_by=sent_by,
    )
    receipt_claim_email(receipt=receipt, at=message.created_at)
    return message


def email_receipt_automatically(*, receipt_id: int) -> str:
    """The task behind the studio's switch: email a new receipt once. Returns what happened."""
    with transaction.atomic():
        receipt = (
            Receipt.objects.select_related("payment__client", "payment__client__trainer")
            .filter(pk=receipt_id)
            .first()
        )
        if receipt is None:
            return "receipt deleted"
        if not receipt_template().send_automatically:
            return "automatic receipts are switched off"
        client = receipt.payment.client
        if reason := client.cannot_receive_reason(Channel.EMAIL, Category.TRANSACTIONAL):
            return f"not emailed: {reason}"
        # The claim comes first: a retried or repeated task finds it taken and sends nothing.
        if not receipt_claim_email(receipt=receipt, at=timezone.now(), only_if_never=True):
            return "already emailed"
        try:
            subject, body = render_receipt(receipt)
        except ValidationError as exc:
            # The studio's template is broken: the claim rolls back with this transaction,
            # and the log says why (staff see it when they save the template).
            transaction.set_rollback(True)
            logger.error("receipt %s not emailed: %s", receipt.label, " ".join(exc.messages))
            return "template cannot render"
        send_message(
            client=client,
            channel=Channel.EMAIL,
            subject=subject,
            body=body,
            category=Category.TRANSACTIONAL,
            payment=receipt.payment,
        )
    return "emailed"


def receipt_recorded(sender, instance, created, raw=False, **kwargs):
    """post_save of Receipt: with the switch on, email it after the recording commits."""
    if raw or not created:
        return
    if not ReceiptTemplate.objects.filter(pk=1, send_automatically=True).exists():
        return
    receipt_id = instance.pk

    def enqueue_after_commit():
        enqueue(EMAIL_RECEIPT_TASK, receipt_id=receipt_id, task_name=f"receipt email {receipt_id}")

    # robust: a broker hiccup must not turn a recorded payment into an error page.
    transaction.on_commit(enqueue_after_commit, robust=True)
