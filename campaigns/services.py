"""Writes for campaigns: save, schedule, plan, cancel, test send.

Planning turns a campaign into one queued marketing Message per recipient, in bulk;
the messaging engine delivers them at the studio's marketing rate. The database's
unique (campaign, client) constraint is what keeps a recipient from getting the
campaign twice, however often or concurrently planning runs.
"""

import datetime as dt
import logging
from collections import Counter
from dataclasses import dataclass, field

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import InterfaceError, OperationalError, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from campaigns import rendering
from campaigns.models import Campaign, Segment
from campaigns.selectors import campaign_audience, recipient_channel
from clients.models import Category, Channel, Client
from clients.roles import is_manager
from common.queue import enqueue
from messaging.channels import get_channel
from messaging.models import Message
from messaging.services import kick_delivery_on_commit, send_test_email

logger = logging.getLogger(__name__)

PLAN_BATCH_SIZE = 2000
CONTENT_FIELDS = ("name", "kind", "subject", "body", "segment", "scheduled_at")

#: What the planner reads from each client: consent, address, template variables.
CLIENT_FIELDS = (
    "id",
    "first_name",
    "last_name",
    "email",
    "timezone",
    "trainer_id",
    "email_marketing",
    "email_reminders",
    "email_unsubscribed_at",
    "email_suppressed_at",
    "email_suppressed_reason",
    "phone",
    "sms_opted_out_at",
    "sms_marketing",
    "sms_reminders",
    "trainer__first_name",
    "trainer__last_name",
    "trainer__username",
)


def _check_segment_allowed(*, segment: Segment, user) -> None:
    """A trainer may only use their own segments; managers may use any."""
    if user is not None and not is_manager(user) and segment.owner_id != user.pk:
        raise PermissionDenied("You can only use your own segments.")


def _check_kind_allowed(*, campaign: Campaign, user) -> None:
    """An announcement skips marketing consent: only a manager may send one."""
    if user is not None and campaign.kind == Campaign.Kind.ANNOUNCEMENT and not is_manager(user):
        raise PermissionDenied("Only a studio manager can send an announcement.")


def campaign_save(*, campaign: Campaign, user=None) -> Campaign:
    """Validate (templates included) and save a draft or scheduled campaign."""
    if campaign.created_by_id is None and user is not None:
        campaign.created_by = user
    _check_segment_allowed(segment=campaign.segment, user=user)
    _check_kind_allowed(campaign=campaign, user=user)
    campaign.full_clean()
    if campaign._state.adding:
        campaign.save()
        return campaign
    # Only the content, and only while still editable: a planner may have claimed the
    # campaign since the form was opened, and a full save() would put back its old status.
    updated = Campaign.objects.filter(pk=campaign.pk, status__in=Campaign.EDITABLE).update(
        **{name: getattr(campaign, name) for name in CONTENT_FIELDS}, updated_at=timezone.now()
    )
    if not updated:
        raise ValidationError("This campaign has already been sent or cancelled and can no longer change.")
    return campaign


def campaign_schedule(*, campaign: Campaign, at: dt.datetime, user=None) -> Campaign:
    """Send at ``at`` (aware; the admin reads it in the studio's zone), a time still ahead.

    A time already past is refused rather than sent at once: staff who meant next
    year's date must not see the campaign leave now (*Send now* says so on purpose).
    """
    if timezone.is_naive(at):
        raise ValidationError("The send time needs a time zone.")
    if at <= timezone.now():
        raise ValidationError("That time has passed: pick a time ahead, or use “Send now”.")
    return _schedule(campaign=campaign, at=at, user=user)


def _schedule(*, campaign: Campaign, at: dt.datetime, user=None) -> Campaign:
    _check_segment_allowed(segment=campaign.segment, user=user)
    _check_kind_allowed(campaign=campaign, user=user)
    rendering.validate(subject=campaign.subject, body=campaign.body)
    updated = Campaign.objects.filter(pk=campaign.pk, status__in=Campaign.EDITABLE).update(
        status=Campaign.Status.SCHEDULED, scheduled_at=at, error="", updated_at=timezone.now()
    )
    if not updated:
        raise ValidationError("Only a draft or scheduled campaign can be scheduled.")
    campaign.refresh_from_db()
    if at <= timezone.now():
        _enqueue_plan(campaign.pk)
    return campaign


def campaign_send_now(*, campaign: Campaign, user=None) -> Campaign:
    """Schedule for now and plan in the background (planning 50,000 rows is no web request)."""
    return _schedule(campaign=campaign, at=timezone.now(), user=user)


def _enqueue_plan(campaign_id: int) -> None:
    # robust: a broker hiccup must not fail the request; the every-minute due check
    # plans the campaign anyway. No timeout of its own: planning gets the cluster's
    # (Q_TIMEOUT_SECONDS), like the periodic check that also plans, and the system
    # checks keep that below the broker's retry.
    transaction.on_commit(lambda: enqueue("campaigns.tasks.plan_campaign", campaign_id), robust=True)


@dataclass
class PlanResult:
    recipients: int = 0
    excluded: Counter = field(default_factory=Counter)
    #: Rows handed to the database; those already there were skipped by it.
    offered: int = 0


def plan_recipients(*, campaign: Campaign, now: dt.datetime | None = None) -> PlanResult:
    """Create the queued messages for everyone the segment matches now. Idempotent.

    Clients who may not receive marketing email are counted by reason instead of
    planned. Rows that already exist are skipped by the database (the unique
    constraint), so a second or concurrent run adds nobody twice.
    """
    now = now or timezone.now()
    render = rendering.compile_campaign(subject=campaign.subject, body=campaign.body)
    audience = (
        campaign_audience(campaign, now=now).select_related("trainer").only(*CLIENT_FIELDS).order_by("pk")
    )
    result = PlanResult()
    batch = []
    for client in audience.iterator(chunk_size=PLAN_BATCH_SIZE):
        channel, reason = recipient_channel(campaign, client)
        if reason:
            result.excluded[reason] += 1
            continue
        subject, body = render(client, now)
        if channel == Channel.SMS and campaign.category == Category.MARKETING:
            body = rendering.sms_body(body)
        batch.append(
            Message(
                client_id=client.pk,
                campaign_id=campaign.pk,
                channel=channel,
                category=campaign.category,
                status=Message.Status.QUEUED,
                to_address=get_channel(channel).address_for(client) or "",
                subject=subject[:200] if channel == Channel.EMAIL else "",
                body=body,
                sent_by_id=campaign.created_by_id,
                next_attempt_at=now,
            )
        )
        if len(batch) >= PLAN_BATCH_SIZE:
            _insert(batch)
            result.offered += len(batch)
            batch = []
    if batch:
        _insert(batch)
        result.offered += len(batch)
    result.recipients = Message.objects.filter(campaign=campaign, client__isnull=False).count()
    return result


def _insert(batch: list[Message]) -> None:
    Message.objects.bulk_create(batch, batch_size=PLAN_BATCH_SIZE, ignore_conflicts=True)


def campaign_plan(*, campaign_id: int, now: dt.datetime | None = None) -> PlanResult | None:
    """Plan a due campaign: claim it, create its messages, start delivery.

    The claim (scheduled → sending) and the messages commit together: a planner that
    dies leaves the campaign scheduled for the next check, never half planned. A
    second planner waits on the claimed row and then finds nothing to claim.

    A campaign that cannot be planned (a template that no longer renders, a segment
    that cannot be evaluated) goes back to draft with the reason on its page: it
    would fail the same way every minute. A database that is unavailable is not the
    campaign's fault: that error propagates and the campaign stays scheduled.
    """
    now = now or timezone.now()
    try:
        with transaction.atomic():
            claimed = Campaign.objects.filter(
                pk=campaign_id, status=Campaign.Status.SCHEDULED, scheduled_at__lte=now
            ).update(status=Campaign.Status.SENDING, planned_at=now, updated_at=now)
            if not claimed:
                return None
            campaign = Campaign.objects.select_related("segment__owner", "created_by").get(pk=campaign_id)
            result = plan_recipients(campaign=campaign, now=now)
            Campaign.objects.filter(pk=campaign_id).update(
                recipients_count=result.recipients, excluded_counts=dict(result.excluded), error=""
            )
            kick_delivery_on_commit()
    except ValidationError as exc:
        error = " ".join(exc.messages)
        logger.warning("campaign %s not sent: %s", campaign_id, error)
    except (OperationalError, InterfaceError):
        raise
    except Exception as exc:  # the reason goes on the campaign page; the traceback to the log
        logger.exception("campaign %s: planning failed", campaign_id)
        error = f"Planning failed ({type(exc).__name__}: {exc})."
    else:
        logger.info(
            "campaign %s planned: %s recipients, %s excluded",
            campaign_id,
            result.recipients,
            sum(result.excluded.values()),
        )
        finish_campaigns(campaign_ids=[campaign_id], now=now)
        return result
    # The planning transaction rolled back, claim included: the campaign is scheduled again.
    Campaign.objects.filter(pk=campaign_id, status=Campaign.Status.SCHEDULED).update(
        status=Campaign.Status.DRAFT, error=error[:2000], updated_at=now
    )
    return None


def send_due_campaigns(*, now: dt.datetime | None = None) -> int:
    """Plan every scheduled campaign whose time has come (the periodic check).

    Oldest first, each on its own: one campaign that fails (even unexpectedly, even
    with the database refusing its statement) never keeps the others from going out.
    """
    now = now or timezone.now()
    due = Campaign.objects.filter(status=Campaign.Status.SCHEDULED, scheduled_at__lte=now)
    planned = 0
    for campaign_id in due.order_by("scheduled_at", "pk").values_list("pk", flat=True):
        try:
            # A savepoint when the caller holds a transaction, so a failed statement
            # leaves it usable for the next campaign.
            with transaction.atomic():
                result = campaign_plan(campaign_id=campaign_id, now=now)
        except Exception:  # logged with its traceback; the campaign stays scheduled for the next check
            logger.exception("campaign %s: planning failed; retrying at the next check", campaign_id)
            continue
        if result is not None:
            planned += 1
    finish_campaigns(now=now)
    return planned


def finish_campaigns(*, campaign_ids=None, now: dt.datetime | None = None) -> int:
    """Mark sending campaigns sent once none of their messages is waiting any more."""
    now = now or timezone.now()
    waiting = Message.objects.filter(
        campaign_id=OuterRef("pk"), status__in=(Message.Status.QUEUED, Message.Status.SENDING)
    )
    qs = Campaign.objects.filter(status=Campaign.Status.SENDING).exclude(Exists(waiting))
    if campaign_ids is not None:
        qs = qs.filter(pk__in=campaign_ids)
    return qs.update(status=Campaign.Status.SENT, finished_at=now, updated_at=now)


def campaign_cancel(*, campaign: Campaign, now: dt.datetime | None = None) -> int:
    """Stop a campaign: its queued messages are cancelled, anything already sent stays.

    Returns how many messages were cancelled. A message the engine has already
    claimed (``sending``) is in flight and finishes normally.
    """
    now = now or timezone.now()
    with transaction.atomic():
        updated = Campaign.objects.filter(
            pk=campaign.pk, status__in=(*Campaign.EDITABLE, Campaign.Status.SENDING)
        ).update(status=Campaign.Status.CANCELLED, cancelled_at=now, updated_at=now)
        if not updated:
            raise ValidationError("Only a draft, scheduled or sending campaign can be cancelled.")
        cancelled = Message.objects.filter(campaign=campaign, status=Message.Status.QUEUED).update(
            status=Message.Status.CANCELLED, error="campaign cancelled", updated_at=now
        )
    campaign.refresh_from_db()
    return cancelled


def campaign_send_test(*, campaign: Campaign, user, client: Client | None = None) -> Message:
    """Send the campaign, rendered for ``client``, to the staff member's own address.

    The personal links are samples (a click must not unsubscribe the real
    client); ``messaging.services.send_test_email`` marks, records and delivers it.
    """
    _check_segment_allowed(segment=campaign.segment, user=user)
    if client is None:
        client = campaign_audience(campaign).select_related("trainer").order_by("pk").first()
    elif not is_manager(user) and client.trainer_id != user.pk:
        raise PermissionDenied("You can only preview your own clients.")
    render = rendering.compile_campaign(subject=campaign.subject, body=campaign.body, sample_links=True)
    subject, body = render(client)
    return send_test_email(user=user, subject=subject, body=body)
