"""The reads behind the dashboard: one bounded set of queries, whatever the data size.

Every panel is an aggregate in the database (``GROUP BY`` on indexed columns) or
a short, limited list; nothing loops over rows in Python except those short lists
and the forecast's occurrences for the next 24 hours.
"""

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import (
    Case,
    CharField,
    Count,
    DateTimeField,
    DecimalField,
    DurationField,
    Exists,
    ExpressionWrapper,
    F,
    Max,
    Min,
    OuterRef,
    Q,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce, Concat, TruncMonth, TruncWeek
from django.utils import timezone

from automation import forecast
from billing.models import Payment, Receipt
from billing.policy import StudioPolicy
from clients.models import Category, Channel, Client
from clients.roles import is_manager
from clients.selectors import visible_clients
from common.clock import studio_midnight, studio_today, studio_tz
from messaging.heartbeat import DELIVERY
from messaging.inbox.selectors import conversations, unread_messages
from messaging.models import Message, WorkerHeartbeat
from scheduling.models import Session

SESSION_ROWS = 60
OVERDUE_ROWS = 5
CONVERSATION_ROWS = 5
FORECAST_ROWS = 50
WEEKS = 12
MONTHS = 12


# --- Scope ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scope:
    """Whose book the page shows: a trainer's own, or (managers) the studio or one trainer's.

    The same rule as ``clients.selectors.scope_clients``: a trainer's book is the
    clients whose ``trainer`` she is.
    """

    user: object
    trainer_id: int | None  # None: the whole studio

    @classmethod
    def for_request(cls, user, picked_trainer_id: int | None) -> "Scope":
        if not is_manager(user):
            return cls(user, user.pk)
        return cls(user, picked_trainer_id)

    def clients(self):
        clients = visible_clients(self.user)
        return clients if self.trainer_id is None else clients.filter(trainer_id=self.trainer_id)

    def narrow(self, queryset, client_path: str = "client"):
        """A queryset of rows that belong to a client, narrowed to the book."""
        if self.trainer_id is None:
            return queryset
        return queryset.filter(**{f"{client_path}__trainer_id": self.trainer_id})


def trainers():
    """Staff who train at least one client (the manager's picker)."""
    return (
        get_user_model()
        .objects.filter(Exists(Client.objects.filter(trainer=OuterRef("pk"))), is_active=True, is_staff=True)
        .only("pk", "username", "first_name", "last_name")
        .order_by("first_name", "last_name", "username")
    )


# --- Today and tomorrow ---------------------------------------------------------------------


def sessions_today_and_tomorrow(scope: Scope, *, now: datetime) -> tuple[date, list[Session]]:
    """Sessions of the viewer's today and tomorrow (the viewer's zone), in time order."""
    tz = timezone.get_current_timezone()
    today = now.astimezone(tz).date()
    start = datetime.combine(today, datetime.min.time(), tzinfo=tz)
    end = datetime.combine(today + timedelta(days=2), datetime.min.time(), tzinfo=tz)
    sessions = (
        scope.narrow(Session.objects.filter(starts_at__gte=start, starts_at__lt=end))
        .select_related("client", "trainer")
        .defer("client__phone", "client__notes", "notes")
        .order_by("starts_at", "pk")[: SESSION_ROWS + 1]
    )
    sessions = list(sessions)
    for session in sessions:
        session.day = session.starts_at.astimezone(tz).date()
    return today, sessions


# --- The page's time series and totals, in one statement ----------------------------------


def month_starts(today: date, n: int) -> list[date]:
    months = []
    year, month = today.year, today.month
    for _ in range(n):
        months.append(date(year, month, 1))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return months[::-1]


def week_starts(today: date, n: int) -> list[date]:
    monday = today - timedelta(days=today.weekday())
    return [monday - timedelta(weeks=i) for i in range(n - 1, -1, -1)]


def _overdue_q(today: date) -> Q:
    # A pending payment past its due date is overdue already, whether or not the
    # scan has turned it yet (as campaigns' segments count it).
    return Q(status=Payment.Status.OVERDUE) | Q(status=Payment.Status.PENDING, due_date__lt=today)


REACHED = (Message.Status.SENT, Message.Status.DELIVERED, Message.Status.READ)
NOT_REACHED = (Message.Status.FAILED, Message.Status.SUPPRESSED)

OUTCOMES = (
    ("completed", "Completed"),
    ("no_show", "No-show"),
    ("late_cancelled", "Late-cancelled"),
    ("cancelled", "Cancelled"),
)


def _series(queryset, *, series, bucket, total=None):
    """One part of the union: (part, bucket, n, total) rows, grouped by part and bucket
    (or one row per part when ``bucket`` is itself an aggregate)."""
    total = total if total is not None else Sum(Value(0), output_field=DecimalField())
    # COUNT(*), not COUNT(id): the id is in no covering index, and counting it would send
    # an index-only scan back to the table for every row.
    if getattr(bucket, "contains_aggregate", False):
        grouped = queryset.annotate(part=series).order_by().values("part")
        return grouped.annotate(bucket=bucket, n=Count("*"), total=total)
    grouped = queryset.annotate(part=series, bucket=bucket).order_by().values("part", "bucket")
    return grouped.annotate(n=Count("*"), total=total)


def _day(moment) -> date | None:
    return moment.astimezone(studio_tz()).date() if isinstance(moment, datetime) else moment


@dataclass
class Figures:
    """Everything on the page that is a sum or a count over time, from one query."""

    currency: str
    months: list
    weeks: list
    overdue_total: Decimal = Decimal(0)
    overdue_count: int = 0
    due_soon_total: Decimal = Decimal(0)
    due_soon_count: int = 0
    unread: int = 0
    needs_reply: int = 0
    rate: dict = field(default_factory=dict)  # channel -> {week: [reached, not reached]}
    collected: dict = field(default_factory=dict)  # first of month -> Decimal
    sessions: dict = field(default_factory=dict)  # week -> {outcome: n}
    clients: dict = field(default_factory=dict)  # month -> {"new": n, "lost": n}
    worker_seen_at: datetime | None = None
    oldest_due_at: datetime | None = None

    @property
    def this_month(self) -> Decimal:
        return self.collected[self.months[-1]]

    @property
    def last_month(self) -> Decimal:
        return self.collected[self.months[-2]]


def figures(scope: Scope, *, now: datetime) -> Figures:
    """Overdue, due in the next 7 days, collected per month (receipts), sessions per week by
    outcome, new and lost clients per month (the studio's calendar), the inbox's unread
    and needs-reply counts, and the two facts behind the delivery banner: each a
    ``GROUP BY`` of its own, sent as one ``UNION ALL``.

    A cancellation is late when it came inside the studio policy's late-cancel window
    (``billing.charges.studio_policy``). A client is "lost" in the month the record was last changed
    while inactive: marking a client inactive is how the studio says it lost them.
    """
    tz = studio_tz()
    today = studio_today(now)
    months, weeks = month_starts(today, MONTHS), week_starts(today, WEEKS)
    since_month, since_week = studio_midnight(months[0]), studio_midnight(weeks[0])
    until_week = studio_midnight(weeks[-1] + timedelta(days=7))
    result = Figures(
        currency=settings.CURRENCY,
        months=months,
        weeks=weeks,
        collected=dict.fromkeys(months, Decimal(0)),
        sessions={week: dict.fromkeys((key for key, _ in OUTCOMES), 0) for week in weeks},
        clients={month: {"new": 0, "lost": 0} for month in months},
        rate={channel: {week: [0, 0] for week in weeks} for channel in Channel.values},
    )
    due_soon = Q(status=Payment.Status.PENDING, due_date__gte=today, due_date__lte=today + timedelta(days=7))
    overdue = _overdue_q(today)
    # Payments are paid in parts: what is owed is the balance, and what was collected in a
    # month is the money received in it (receipts, whatever became of their payment).
    payments = _series(
        scope.narrow(Payment.objects.filter(due_soon | overdue)),
        series=Case(When(due_soon, then=Value("due")), default=Value("overdue"), output_field=CharField()),
        bucket=Value(None, output_field=DateTimeField()),
        total=Sum(F("amount") - F("amount_paid"), output_field=DecimalField(max_digits=12, decimal_places=2)),
    )
    received = _series(
        scope.narrow(Receipt.objects.filter(paid_at__gte=since_month), client_path="payment__client"),
        series=Value("paid", output_field=CharField()),
        bucket=TruncMonth("paid_at", tzinfo=tz),
        total=Sum("amount"),
    )
    # The policy's window read inside the same query (the page's query budget): the
    # setting only until the policy's row exists.
    window_hours = Coalesce(
        Subquery(StudioPolicy.objects.filter(pk=1).values("late_cancel_window_hours")[:1]),
        Value(settings.CANCELLATION_NOTICE_HOURS),
    )
    notice = ExpressionWrapper(window_hours * Value(timedelta(hours=1)), output_field=DurationField())
    cancelled = Session.Status.CANCELLED
    sessions = _series(
        scope.narrow(
            Session.objects.filter(
                starts_at__gte=since_week,
                starts_at__lt=until_week,
                status__in=(Session.Status.COMPLETED, Session.Status.NO_SHOW, cancelled),
            )
        ),
        series=Case(
            When(status=cancelled, cancelled_at__gt=F("starts_at") - notice, then=Value("late_cancelled")),
            default=F("status"),
            output_field=CharField(),
        ),
        bucket=TruncWeek("starts_at", tzinfo=tz),
    )
    clients = scope.clients()
    new = _series(
        clients.filter(created_at__gte=since_month),
        series=Value("new", output_field=CharField()),
        bucket=TruncMonth("created_at", tzinfo=tz),
    )
    lost = _series(
        clients.filter(status=Client.Status.INACTIVE, updated_at__gte=since_month),
        series=Value("lost", output_field=CharField()),
        bucket=TruncMonth("updated_at", tzinfo=tz),
    )
    # Outgoing messages that reached the provider (or the client's inbox) or not, per
    # channel and week: "rate:sms:1" / "rate:sms:0".
    rate = _series(
        scope.narrow(
            Message.objects.filter(
                direction=Message.Direction.OUTBOUND,
                created_at__gte=since_week,
                status__in=REACHED + NOT_REACHED,
            )
        ),
        series=Concat(
            Value("rate:"),
            "channel",
            Case(When(status__in=REACHED, then=Value(":1")), default=Value(":0")),
            output_field=CharField(),
        ),
        bucket=TruncWeek("created_at", tzinfo=tz),
    )
    unread = _series(
        scope.narrow(unread_messages().filter(client__isnull=False)),
        series=Value("unread", output_field=CharField()),
        bucket=Max("created_at"),
    )
    # Conversations whose last message is the client's (the inbox's "needs reply"), among
    # those active lately: each has exactly one inbound message with nothing after it.
    later = Message.objects.filter(client=OuterRef("client"), created_at__gt=OuterRef("created_at"))
    needs_reply = _series(
        scope.narrow(
            Message.objects.filter(
                direction=Message.Direction.INBOUND,
                client__isnull=False,
                created_at__gte=now - timedelta(days=NEEDS_REPLY_DAYS),
            ).filter(~Exists(later))
        ),
        series=Value("needs_reply", output_field=CharField()),
        bucket=Max("created_at"),
    )
    # The banner's two facts are the studio's, whoever looks: one worker pool, one queue.
    worker = _series(
        WorkerHeartbeat.objects.filter(name=DELIVERY),
        series=Value("worker", output_field=CharField()),
        bucket=Max("beat_at"),
    )
    # Due since its retry or deferral time, or since it was queued; marketing email waits
    # for its throttle by design (the same count as /healthz/).
    queue = _series(
        Message.objects.filter(status=Message.Status.QUEUED, direction=Message.Direction.OUTBOUND)
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        .exclude(channel=Channel.EMAIL, category=Category.MARKETING),
        series=Value("queue", output_field=CharField()),
        bucket=Min(Coalesce("next_attempt_at", "created_at")),
    )
    parts = payments.union(received, sessions, new, lost, rate, unread, needs_reply, worker, queue, all=True)
    for row in parts:
        series, bucket, n, total = row["part"], _day(row["bucket"]), row["n"], row["total"]
        if series == "overdue":
            result.overdue_total, result.overdue_count = total, n
        elif series == "unread":
            result.unread = n
        elif series == "needs_reply":
            result.needs_reply = n
        elif series == "due":
            result.due_soon_total, result.due_soon_count = total, n
        elif series == "paid":
            if bucket in result.collected:
                result.collected[bucket] += total
        elif series in ("new", "lost"):
            if bucket in result.clients:
                result.clients[bucket][series] += n
        elif series.startswith("rate:"):
            _, channel, reached = series.split(":")
            if bucket in result.rate.get(channel, {}):
                result.rate[channel][bucket][0 if reached == "1" else 1] += n
        elif series == "worker":
            result.worker_seen_at = row["bucket"]
        elif series == "queue":
            result.oldest_due_at = row["bucket"]
        elif bucket in result.sessions:
            result.sessions[bucket][series] += n
    return result


# --- Money ------------------------------------------------------------------------------------


def oldest_overdue(scope: Scope, *, now: datetime) -> list[Payment]:
    """The oldest few overdue payments, with days overdue (the totals are in ``figures``)."""
    today = studio_today(now)
    rows = list(
        scope.narrow(Payment.objects.filter(_overdue_q(today)))
        .select_related("client")
        .defer("client__phone", "client__notes")
        .order_by("due_date", "pk")[:OVERDUE_ROWS]
    )
    for payment in rows:
        payment.days_overdue = (today - payment.due_date).days
    return rows


# --- Inbox ----------------------------------------------------------------------------------

#: The latest conversations are found among the clients of this many latest messages.
RECENT_MESSAGES = 100
#: "Needs a reply" and the latest conversations look at the last this many days.
NEEDS_REPLY_DAYS = 30


def latest_conversations(scope: Scope, *, now: datetime) -> list[Client]:
    """The latest few conversations of the last ``NEEDS_REPLY_DAYS``, with unread
    counts and the last message's text.

    The inbox's own conversation query, over only the clients of the latest
    ``RECENT_MESSAGES`` messages, so its per-client subqueries run for a hundred
    clients, not the whole book (one query).
    """
    recent = (
        scope.narrow(
            Message.objects.filter(
                client__isnull=False, created_at__gte=now - timedelta(days=NEEDS_REPLY_DAYS)
            )
        )
        .order_by("-created_at", "-pk")
        .values("client_id")[:RECENT_MESSAGES]
    )
    latest = Message.objects.filter(client=OuterRef("pk")).order_by("-created_at", "-pk")
    return list(
        conversations(user=scope.user, trainer_id=scope.trainer_id)
        .filter(pk__in=recent)
        .annotate(last_body=Subquery(latest.values("body")[:1]))[:CONVERSATION_ROWS]
    )


# --- Delivery health and the delivery-rate chart (one query) ---------------------------------


@dataclass
class Reason:
    kind: str  # failed, suppressed, retry, deferred
    reason: str
    count: int
    url: str = ""

    @property
    def label(self) -> str:
        return KIND_LABELS[self.kind]

    @property
    def text(self) -> str:
        if self.reason:
            return self.reason
        return "quiet hours in the client's zone" if self.kind == "deferred" else "no reason recorded"


KIND_LABELS = {
    "failed": "Failed",
    "suppressed": "Suppressed",
    "retry": "Held: retry waiting",
    "deferred": "Held: deferred",
}


@dataclass
class Health:
    since: datetime
    now: datetime
    failed: int = 0
    suppressed: int = 0
    held: int = 0
    reasons: list = field(default_factory=list)
    worker_seen_at: datetime | None = None
    worker_seen_just_now: bool = False
    oldest_due_at: datetime | None = None
    banner: list = field(default_factory=list)


def delivery_health(scope: Scope, *, now: datetime) -> Health:
    """Last 7 days' failures and suppressions and what is held now, by reason."""
    since = now - timedelta(days=7)
    held = Q(status=Message.Status.QUEUED, next_attempt_at__gt=now)
    rows = (
        scope.narrow(
            Message.objects.filter(direction=Message.Direction.OUTBOUND).filter(
                held | Q(status__in=NOT_REACHED, created_at__gte=since)
            )
        )
        .annotate(
            kind=Case(
                When(held & ~Q(error=""), then=Value("retry")),
                When(held, then=Value("deferred")),
                default=F("status"),
                output_field=CharField(),
            )
        )
        .order_by()
        .values("kind", "error")
        .annotate(n=Count("pk"))
    )
    health = Health(since=since, now=now)
    for row in rows:
        kind, n = row["kind"], row["n"]
        health.reasons.append(Reason(kind, row["error"], n))
        if kind == Message.Status.FAILED:
            health.failed += n
        elif kind == Message.Status.SUPPRESSED:
            health.suppressed += n
        else:
            health.held += n
    health.reasons.sort(key=lambda r: (_KIND_ORDER[r.kind], -r.count, r.reason))
    return health


_KIND_ORDER = {"failed": 0, "suppressed": 1, "retry": 2, "deferred": 3}


def worker_check(health: Health, figures: Figures, *, now: datetime):
    """The banner, by the same rules as ``/healthz/``: no delivery worker has checked in
    (``messaging.heartbeat``, at the start of every run; its schedule runs every minute)
    for ``HEALTH_WORKER_MAX_AGE_MINUTES``, or the oldest message due has waited longer
    than ``HEALTH_QUEUE_MAX_AGE_MINUTES``."""
    health.worker_seen_at, health.oldest_due_at = figures.worker_seen_at, figures.oldest_due_at
    silent = timedelta(minutes=settings.HEALTH_WORKER_MAX_AGE_MINUTES)
    stuck = timedelta(minutes=settings.HEALTH_QUEUE_MAX_AGE_MINUTES)
    health.worker_seen_just_now = (
        health.worker_seen_at is not None and now - health.worker_seen_at < timedelta(minutes=1)
    )
    if health.worker_seen_at is None or now - health.worker_seen_at > silent:
        health.banner.append("worker")
    if health.oldest_due_at is not None and now - health.oldest_due_at > stuck:
        health.banner.append("queue")


# --- Coming up from automation ---------------------------------------------------------------


def coming_up(scope: Scope, *, now: datetime) -> forecast.Upcoming:
    """The soonest ``FORECAST_ROWS`` occurrences of the next 24 hours, judged."""
    return forecast.upcoming(now=now, hours=24, trainer_id=scope.trainer_id, limit=FORECAST_ROWS)
