"""Reads: who a segment matches right now, and what a campaign achieved."""

import datetime as dt
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet
from django.db.models.lookups import GreaterThan
from django.utils import timezone

from billing.models import Payment
from billing.selectors import balance_expression
from campaigns import rendering
from campaigns.models import MAX_SEGMENT_DAYS, Campaign, Segment
from clients.models import Category, Channel, Client
from clients.selectors import scope_clients
from common import clock
from messaging.delivery import sms_sent_this_month
from messaging.models import Message, MessageEvent
from messaging.sms_text import sms_count
from scheduling.models import Session

SAMPLE_SIZE = 10


def segment_condition(segment: Segment, *, now: dt.datetime) -> Q:
    """The segment's conditions as one ``Q`` on Client (AND of every condition set).

    Day counts are capped as the model's validators cap them, so a row written past
    them (a shell, an old backup) still evaluates instead of overflowing.
    """
    q = Q()
    if segment.status:
        q &= Q(status=segment.status)
    if segment.trainer_id:
        q &= Q(trainer_id=segment.trainer_id)

    tag_ids = list(segment.tags.values_list("pk", flat=True)) if segment.pk else []
    if tag_ids:
        tagged = Client.tags.through.objects.filter(client_id=OuterRef("pk"))
        if segment.tags_match == Segment.TagsMatch.ALL:
            for tag_id in tag_ids:
                q &= Exists(tagged.filter(tag_id=tag_id))
        else:
            q &= Exists(tagged.filter(tag_id__in=tag_ids))

    if segment.has_overdue_payment is not None:
        # The daily scan turns pending payments overdue; until it has run, a pending
        # payment past its due date is just as overdue.
        today = clock.studio_today(now)
        overdue = Exists(
            Payment.objects.filter(client_id=OuterRef("pk")).filter(
                Q(status=Payment.Status.OVERDUE) | Q(status=Payment.Status.PENDING, due_date__lt=today)
            )
        )
        q &= overdue if segment.has_overdue_payment else ~overdue

    if segment.owes_more_than is not None:
        # The client's balance as a correlated sum: still one query for the whole segment.
        q &= GreaterThan(balance_expression(), segment.owes_more_than)

    if segment.no_completed_session_days is not None:
        since = now - dt.timedelta(days=min(segment.no_completed_session_days, MAX_SEGMENT_DAYS))
        q &= ~Exists(
            Session.objects.filter(
                client_id=OuterRef("pk"), status=Session.Status.COMPLETED, starts_at__gte=since
            )
        )
    if segment.session_in_next_days is not None:
        until = now + dt.timedelta(days=min(segment.session_in_next_days, MAX_SEGMENT_DAYS))
        q &= Exists(
            Session.objects.filter(
                client_id=OuterRef("pk"),
                status=Session.Status.SCHEDULED,
                starts_at__gte=now,
                starts_at__lt=until,
            )
        )

    if segment.birthday_month:
        q &= Q(birth_date__month=segment.birthday_month)
    if segment.joined_after:
        q &= Q(created_at__gte=clock.studio_midnight(segment.joined_after))
    if segment.joined_before:
        q &= Q(created_at__lt=clock.studio_midnight(segment.joined_before))

    if segment.has_email is not None:
        q &= ~Q(email="") if segment.has_email else Q(email="")
    if segment.email_marketing is not None:
        q &= Q(email_marketing=segment.email_marketing)
    return q


def segment_clients(segment: Segment, *, now: dt.datetime | None = None, as_user=None) -> QuerySet:
    """The clients the segment matches now.

    A segment owned by a trainer only ever matches that trainer's clients, and so
    does any evaluation done on behalf of a trainer (``as_user``); studio managers
    target everyone.
    """
    now = now or timezone.now()
    qs = Client.objects.filter(segment_condition(segment, now=now))
    qs = scope_clients(qs, segment.owner)
    return scope_clients(qs, as_user)


def campaign_audience(campaign: Campaign, *, now: dt.datetime | None = None) -> QuerySet:
    """Who the campaign would reach if it were planned now (before consent checks)."""
    return segment_clients(campaign.segment, now=now, as_user=campaign.created_by)


@dataclass(frozen=True)
class SegmentPreview:
    count: int
    sample: list


def segment_preview(segment: Segment, *, as_user=None, size: int = SAMPLE_SIZE) -> SegmentPreview:
    clients = segment_clients(segment, as_user=as_user)
    return SegmentPreview(
        count=clients.count(),
        sample=list(clients.select_related("trainer").order_by("last_name", "first_name")[:size]),
    )


# --- Statistics ------------------------------------------------------------------


@dataclass(frozen=True)
class Stat:
    label: str
    count: int
    rate: float | None  # share of the messages sent, when that makes sense

    @property
    def percent(self) -> str:
        return "" if self.rate is None else f"{self.rate * 100:.1f}%"


@dataclass(frozen=True)
class CampaignStats:
    recipients: int
    excluded: dict
    rows: list  # [Stat]

    def count(self, label: str) -> int:
        return next(row.count for row in self.rows if row.label == label)


def campaign_stats(campaign: Campaign) -> CampaignStats:
    """Counts from the campaign's messages and their tracking events, in one query.

    Test sends (no client) are left out. Each event counts a message once, however
    many times it was opened or clicked. An unsubscribe counts when the provider
    reported it or when the client used the link after the message was sent.
    """

    def has_event(status):
        return Exists(
            MessageEvent.objects.filter(
                message_id=OuterRef("pk"), source=MessageEvent.Source.ESP, status=status
            )
        )

    sent = Q(status__in=(Message.Status.SENT, Message.Status.DELIVERED, Message.Status.READ)) | Q(
        sent_at__isnull=False
    )
    counts = Message.objects.filter(campaign=campaign, client__isnull=False).aggregate(
        recipients=Count("pk"),
        queued=Count("pk", filter=Q(status__in=(Message.Status.QUEUED, Message.Status.SENDING))),
        sent=Count("pk", filter=sent),
        delivered=Count(
            "pk",
            filter=Q(status__in=(Message.Status.DELIVERED, Message.Status.READ))
            | Q(delivered_at__isnull=False)
            | has_event("delivered"),
        ),
        opened=Count("pk", filter=has_event("opened") | has_event("clicked")),
        clicked=Count("pk", filter=has_event("clicked")),
        bounced=Count("pk", filter=has_event("bounced")),
        complained=Count("pk", filter=has_event("complained")),
        unsubscribed=Count(
            "pk",
            filter=has_event("unsubscribed")
            | Q(sent_at__isnull=False, client__email_unsubscribed_at__gte=F("sent_at")),
        ),
        failed=Count("pk", filter=Q(status=Message.Status.FAILED)),
        suppressed=Count("pk", filter=Q(status=Message.Status.SUPPRESSED)),
        cancelled=Count("pk", filter=Q(status=Message.Status.CANCELLED)),
    )
    sent_count = counts["sent"]

    def rate(n, of):
        return n / of if of else None

    rows = [Stat("recipients", counts["recipients"], None)]
    rows += [Stat(name, counts[name], None) for name in ("queued",)]
    rows.append(Stat("sent", sent_count, rate(sent_count, counts["recipients"])))
    rows += [
        Stat(name, counts[name], rate(counts[name], sent_count))
        for name in ("delivered", "opened", "clicked", "bounced", "complained", "unsubscribed")
    ]
    rows += [
        Stat(name, counts[name], rate(counts[name], counts["recipients"]))
        for name in ("failed", "suppressed", "cancelled")
    ]
    return CampaignStats(recipients=counts["recipients"], excluded=dict(campaign.excluded_counts), rows=rows)


@dataclass(frozen=True)
class Preview:
    client: object
    subject: str
    body: str
    error: str = ""


def campaign_preview(campaign: Campaign, *, client) -> Preview:
    """The campaign as ``client`` would receive it (a real client, when there is one)."""
    try:
        render = rendering.compile_campaign(subject=campaign.subject, body=campaign.body, sample_links=True)
        subject, body = render(client)
    except ValidationError as exc:
        return Preview(client=client, subject="", body="", error=" ".join(exc.messages))
    if campaign.kind == Campaign.Kind.SMS:
        subject, body = "", rendering.sms_body(body)
    return Preview(client=client, subject=subject, body=body)


def recipient_channel(campaign: Campaign, client) -> tuple[str | None, str | None]:
    """(channel, None) for a client the campaign reaches, (None, reason) otherwise.

    Marketing goes only on its own channel and needs marketing consent there. An
    announcement is a notice: email where the client takes reminders by email, else
    SMS where they take them by SMS, else in-app (always allowed: the portal).
    """
    if campaign.kind == Campaign.Kind.ANNOUNCEMENT:
        for channel in (Channel.EMAIL, Channel.SMS):
            if client.can_receive(channel, Category.TRANSACTIONAL):
                return channel, None
        return Channel.IN_APP, None
    channel = Channel.SMS if campaign.kind == Campaign.Kind.SMS else Channel.EMAIL
    reason = client.cannot_receive_reason(channel, Category.MARKETING)
    return (None, reason) if reason else (channel, None)


#: What the consent rule of each kind says, for the campaign page.
CONSENT_RULES = {
    Campaign.Kind.EMAIL: "News and offers: only clients who agreed to marketing email and have not "
    "unsubscribed or bounced.",
    Campaign.Kind.SMS: "News and offers: only clients who agreed to marketing SMS and have not sent STOP; "
    "“Reply STOP to opt out” is added to every message.",
    Campaign.Kind.ANNOUNCEMENT: "Reminders and notices: no marketing consent needed. Each client gets it by "
    "email if they take reminders by email, else by SMS if they take them by SMS, else in-app.",
}


@dataclass
class Reach:
    #: channel -> clients it goes to; reason -> clients left out (the planner's own decision)
    by_channel: dict
    excluded: dict

    @property
    def recipients(self) -> int:
        return sum(self.by_channel.values())


def campaign_reach(campaign: Campaign, audience) -> Reach:
    """Who the campaign would reach now, decided client by client by ``recipient_channel``,
    the function the planner uses."""
    by_channel, excluded = Counter(), Counter()
    for client in audience.only(*REACH_FIELDS).iterator(chunk_size=2000):
        channel, reason = recipient_channel(campaign, client)
        if reason:
            excluded[reason] += 1
        else:
            by_channel[channel] += 1
    # Plain dicts: a template reads ``.items`` of a Counter as a missing key (0).
    return Reach(by_channel=dict(by_channel.most_common()), excluded=dict(excluded.most_common()))


REACH_FIELDS = (
    "id",
    "email",
    "email_marketing",
    "email_reminders",
    "email_unsubscribed_at",
    "email_suppressed_at",
    "email_suppressed_reason",
    "phone",
    "sms_opted_out_at",
    "sms_marketing",
    "sms_reminders",
)


@dataclass
class SmsFigures:
    recipients: int
    encoding: str
    segments: int
    price: Decimal
    cost: Decimal
    currency: str
    monthly_cap: int
    sent_this_month: int


def sms_figures(*, recipients: int, body: str, now=None) -> SmsFigures:
    """Segments of one message, the estimated cost and the monthly cap, before *Send*."""
    info = sms_count(body)
    price = Decimal(settings.SMS_PRICE_PER_SEGMENT)
    return SmsFigures(
        recipients=recipients,
        encoding=info.encoding,
        segments=info.segments,
        price=price,
        cost=recipients * info.segments * price,
        currency=settings.CURRENCY,
        monthly_cap=settings.SMS_MONTHLY_CAP,
        sent_this_month=sms_sent_this_month(now or timezone.now()),
    )
