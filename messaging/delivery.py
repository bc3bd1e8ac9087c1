"""The delivery engine: claiming, delivering and recovering queued messages.

Called by ``messaging.tasks`` only. The Message table is the queue: ``deliver_due`` claims a batch, checks
consent *now*, sends each message through its channel and records the outcome
with queryset ``.update()`` so bookkeeping never fires save signals.

Stuck-message policy (a worker killed mid-batch). A worker handles its batch
in id order and commits each message's outcome before it starts the next, so
in a batch (the rows sharing one ``claimed_at``) still ``sending`` after
``MESSAGING_SENDING_TIMEOUT_SECONDS`` — longer than the django-q2 task timeout,
so the worker is surely gone — the lowest id is the one whose provider call was
in flight and every other one was never started. Recovery then

* puts the never-started ones back in the queue: nothing went out, so sending
  them is safe (and in-app messages too, which have no provider to ask);
* fails the in-flight one with "outcome unknown": the provider may well have
  sent it, and a second reminder or payment notice to a client is worse than one
  that staff re-send by hand ("retry now" in the admin) after checking. At most
  one message per killed worker ends up so.

This costs one write per message (the outcome), not two (a "started" mark
before each provider call and the outcome after it).

A provider call that fails is judged by its channel the same way: an error that
surely came before the request reached the provider (connection refused, DNS, a
connect timeout, 429/503) is retried with backoff; one after it was sent (a read
timeout, a connection dropped before the answer, a gateway's 504) fails the message
as "outcome unknown" at once, for staff to check and "retry now".
"""

import logging
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from datetime import time as dtime
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Case, F, IntegerField, Q, Value, When
from django.utils import timezone

from clients.models import Category, Channel, ConsentChange
from clients.services import client_email_suppress, client_sms_opt_out
from common.clock import studio_midnight, studio_today
from messaging.activity import record_client_activity
from messaging.channels import DeliveryError, get_channel
from messaging.models import ClientActivity, Message, MessageEvent

logger = logging.getLogger(__name__)

Status = Message.Status
_ADVISORY_LOCK_MARKETING_EMAIL = 0x6D736731  # any constant shared by all workers
OUTCOME_UNKNOWN = "outcome unknown: it may have been sent. Check with the client before using 'retry now'."


# --- Claiming ----------------------------------------------------------------------


def _due(now):
    return Message.objects.filter(status=Status.QUEUED, direction=Message.Direction.OUTBOUND).filter(
        Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)
    )


def _take(qs, n: int) -> list[int]:
    if n <= 0:
        return []
    # Transactional first (reminders must not wait behind a campaign), then oldest first.
    qs = qs.annotate(
        priority=Case(
            When(category=Category.MARKETING, then=Value(1)), default=Value(0), output_field=IntegerField()
        )
    ).order_by("priority", "next_attempt_at", "pk")
    if connection.vendor == "postgresql":
        qs = qs.select_for_update(skip_locked=True)
    return list(qs.values_list("pk", flat=True)[:n])


def _marketing_email_room(now) -> int:
    rate = settings.MARKETING_EMAILS_PER_MINUTE
    if rate <= 0:
        return 10**9
    if connection.vendor == "postgresql":
        # Serialise the count-then-claim so two workers cannot both spend the same room.
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_ADVISORY_LOCK_MARKETING_EMAIL])
    used = Message.objects.filter(
        channel=Channel.EMAIL, category=Category.MARKETING, claimed_at__gt=now - timedelta(minutes=1)
    ).count()
    return max(rate - used, 0)


def claim_batch(*, limit: int, now=None) -> list[Message]:
    """Move up to ``limit`` due messages to ``sending`` and return them.

    PostgreSQL: ``SELECT ... FOR UPDATE SKIP LOCKED`` so workers never wait on
    each other. SQLite: the conditional ``status=queued`` update inside a write
    transaction (the project opens SQLite transactions IMMEDIATE) — a row another
    worker took first is simply not updated.
    Marketing email is throttled here to ``MARKETING_EMAILS_PER_MINUTE``.
    """
    now = now or timezone.now()
    with transaction.atomic():
        due = _due(now)
        marketing_email = Q(channel=Channel.EMAIL, category=Category.MARKETING)
        ids = _take(due.exclude(marketing_email), limit)
        room = limit - len(ids)
        if room > 0 and due.filter(marketing_email).exists():
            ids += _take(due.filter(marketing_email), min(room, _marketing_email_room(now)))
        if not ids:
            return []
        Message.objects.filter(pk__in=ids, status=Status.QUEUED).update(
            status=Status.SENDING, claimed_at=now, updated_at=now
        )
        claimed = list(
            Message.objects.filter(pk__in=ids, status=Status.SENDING, claimed_at=now).select_related("client")
        )
    # Id order is what recovery relies on (see the module docstring).
    claimed.sort(key=lambda m: m.pk)
    return claimed


# --- Delivering ---------------------------------------------------------------------


@dataclass
class _Batch:
    channels: dict = field(default_factory=dict)
    events: list = field(default_factory=list)
    sms_sent_this_month: int | None = None

    def channel(self, name):
        if name not in self.channels:
            channel = get_channel(name)
            channel.open()
            self.channels[name] = channel
        return self.channels[name]

    def event(self, message, status, detail=""):
        self.events.append(
            MessageEvent(
                message_id=message.pk, status=status, source=MessageEvent.Source.WORKER, detail=detail
            )
        )

    def close(self):
        for channel in self.channels.values():
            try:
                channel.close()
            except Exception:  # a failing close must not hide the batch's outcome
                logger.exception("closing channel %s failed", channel.name)
        if self.events:
            MessageEvent.objects.bulk_create(self.events)


def deliver_due(*, limit: int | None = None, deadline: float | None = None) -> int:
    """Claim and deliver one batch of due messages; returns how many were handled.

    ``deadline`` (a ``time.monotonic()`` value) stops the batch early; messages
    claimed but not started go straight back to the queue.
    """
    recover_stuck()
    batch = claim_batch(limit=limit or settings.MESSAGING_BATCH_SIZE)
    if not batch:
        return 0
    return deliver_claimed(batch, deadline=deadline)


@contextmanager
def _relaxed_commit():
    """Let this worker's bookkeeping commit without waiting for the WAL flush.

    Each message's outcome is its own small commit; waiting for the disk on each
    caps a worker at a couple of hundred messages a second. Commits stay atomic,
    in order and at once visible to every other connection, and they survive the
    worker being killed — only a crash of the PostgreSQL server itself can lose
    the last fraction of a second of them, which then makes those few messages be
    sent again after recovery. ``MESSAGING_RELAXED_COMMIT=false`` turns this off.
    """
    relaxed = connection.vendor == "postgresql" and settings.MESSAGING_RELAXED_COMMIT
    if relaxed:
        with connection.cursor() as cursor:
            cursor.execute("SET synchronous_commit TO OFF")
    try:
        yield
    finally:
        if relaxed:
            with connection.cursor() as cursor:
                cursor.execute("RESET synchronous_commit")


def deliver_claimed(messages: list[Message], *, deadline: float | None = None) -> int:
    state = _Batch()
    with _relaxed_commit():
        return _deliver_claimed(messages, state, deadline)


def _deliver_claimed(messages, state, deadline) -> int:
    handled = 0
    in_flight = False
    try:
        for message in messages:
            if deadline is not None and time.monotonic() > deadline:
                break
            in_flight = True
            _deliver_one(message, state)
            in_flight = False
            handled += 1
    finally:
        # Hand back what was never started; a message that blew up mid-way stays
        # "sending" for recovery to judge.
        rest = [m.pk for m in messages[handled + in_flight :]]
        if rest:
            Message.objects.filter(pk__in=rest, status=Status.SENDING).update(
                status=Status.QUEUED, claimed_at=None
            )
        state.close()
    return handled


def _log(message: Message, outcome: str, detail: str = "", *, level: int = logging.INFO):
    """One line per delivery outcome, with the ids as fields (LOG_FORMAT=json) to filter on."""
    logger.log(
        level,
        "message %s %s%s",
        message.pk,
        outcome,
        f": {detail}" if detail else "",
        extra={
            "message_id": message.pk,
            "outcome": outcome,
            "channel": message.channel,
            "client_id": message.client_id,
            "rule_id": message.rule_id,
            "campaign_id": message.campaign_id,
            "attempts": message.attempts,
        },
    )


def _deliver_one(message: Message, state: _Batch):
    now = timezone.now()
    client = message.client
    if message.not_after and now >= message.not_after:
        return _suppress(message, state, "too late: it would arrive after it stopped mattering")
    if client is None:
        return _fail(message, state, "no client to send to", now=now)
    reason = client.cannot_receive_reason(message.channel, message.category)
    if reason:
        return _suppress(message, state, reason)
    if message.category == Category.MARKETING:
        reason = _marketing_cap_reason(message, now)
        if reason:
            return _suppress(message, state, reason)
    if message.channel == Channel.SMS:
        # Staff's "send now — urgent" (recorded on the row) goes through quiet hours.
        urgent = message.quiet_hours_overridden_at is not None
        resume = None if urgent else quiet_hours_resume_at(now, client.tzinfo)
        if resume is not None:
            if message.not_after and resume >= message.not_after:
                return _suppress(message, state, "quiet hours: it would arrive too late to matter")
            Message.objects.filter(pk=message.pk, status=Status.SENDING).update(
                status=Status.QUEUED, next_attempt_at=resume, claimed_at=None, updated_at=now
            )
            detail = f"quiet hours in {client.tzinfo.key}: deferred to {resume:%Y-%m-%d %H:%M} UTC"
            _log(message, "deferred", detail)
            return state.event(message, Status.QUEUED, detail)
        cap = settings.SMS_MONTHLY_CAP
        if cap:
            if state.sms_sent_this_month is None:
                state.sms_sent_this_month = _sms_sent_this_month(now)
            if state.sms_sent_this_month >= cap:
                return _suppress(message, state, f"monthly SMS cap of {cap} reached")

    channel = state.channel(message.channel)
    message.to_address = channel.address_for(client) or message.to_address
    message.attempts += 1
    try:
        result = channel.send(message)
    except DeliveryError as exc:
        return _delivery_failed(message, state, exc)
    except Exception as exc:
        # A bug or an unforeseen library error must not stall the batch behind it:
        # log it loudly and retry this one like a transient failure.
        logger.exception(
            "unexpected error sending message %s",
            message.pk,
            extra={"message_id": message.pk, "rule_id": message.rule_id, "campaign_id": message.campaign_id},
        )
        return _delivery_failed(message, state, DeliveryError(f"unexpected error: {exc!r}"))

    done = timezone.now()
    updates = {
        "status": result.status,
        "provider_id": result.provider_id,
        "from_address": result.from_address,
        "sent_at": done,
        "error": "",
    }
    if result.status == Status.DELIVERED:
        updates["delivered_at"] = done
    attempt = {"attempts": message.attempts, "to_address": message.to_address, "updated_at": done}
    updated = Message.objects.filter(pk=message.pk, status=Status.SENDING).update(**updates, **attempt)
    if not updated:
        # A provider callback overtook us (already delivered): keep its status, add our facts.
        Message.objects.filter(pk=message.pk).update(provider_id=result.provider_id, sent_at=done, **attempt)
    if message.channel == Channel.SMS and state.sms_sent_this_month is not None:
        state.sms_sent_this_month += 1
    _log(message, result.status)
    # A plain success is already told by sent_at / delivered_at; the history
    # keeps the detours (retries, deferrals, suppressions, callbacks).


def _suppress(message, state, reason):
    now = timezone.now()
    Message.objects.filter(pk=message.pk, status=Status.SENDING).update(
        status=Status.SUPPRESSED, error=reason, updated_at=now
    )
    _log(message, Status.SUPPRESSED, reason)
    state.event(message, Status.SUPPRESSED, reason)


def _fail(message, state, error, *, now):
    Message.objects.filter(pk=message.pk, status=Status.SENDING).update(
        status=Status.FAILED,
        error=error,
        failed_at=now,
        attempts=message.attempts,
        to_address=message.to_address,
        updated_at=now,
    )
    _log(message, Status.FAILED, error, level=logging.WARNING)
    state.event(message, Status.FAILED, error)


def retry_delay(attempts: int) -> timedelta:
    """Exponential backoff: base, 2×base, 4×base, ... after the 1st, 2nd, 3rd attempt."""
    return timedelta(seconds=settings.MESSAGING_RETRY_BASE_SECONDS * 2 ** max(attempts - 1, 0))


def _delivery_failed(message, state, exc: DeliveryError):
    now = timezone.now()
    error = str(exc)[:2000]
    if exc.outcome_unknown:
        # Retrying could text the client twice; staff decide, as after a crash.
        _fail(message, state, f"{OUTCOME_UNKNOWN} {error}"[:2000], now=now)
        return
    if exc.permanent or message.attempts >= settings.MESSAGING_MAX_ATTEMPTS:
        _fail(message, state, error, now=now)
        if message.client_id:
            # Failed for good (an invalid number, a refused address): the trainer hears of it.
            record_client_activity(
                client=message.client, kind=ClientActivity.Kind.MESSAGE_FAILED, detail=error, message=message
            )
        if exc.refused_recipient and message.client_id:
            _stop_reaching(message, exc.refused_recipient)
        return
    retry_at = now + retry_delay(message.attempts)
    Message.objects.filter(pk=message.pk, status=Status.SENDING).update(
        status=Status.QUEUED,
        error=error,
        next_attempt_at=retry_at,
        claimed_at=None,
        attempts=message.attempts,
        to_address=message.to_address,
        updated_at=now,
    )
    detail = f"attempt {message.attempts} failed, retry at {retry_at:%H:%M:%S}: {error}"
    _log(message, "retry", detail)
    state.event(message, Status.QUEUED, detail)


def _stop_reaching(message, reason):
    """The provider refuses this recipient for good: record it on the client, as its
    bounce or STOP webhook would, so nothing else is queued for them in vain."""
    if message.channel == Channel.SMS:
        client_sms_opt_out(client=message.client, source=ConsentChange.Source.PROVIDER, detail=reason)
    elif message.channel == Channel.EMAIL:
        client_email_suppress(client=message.client, reason=reason)


def _marketing_cap_reason(message, now):
    cap = settings.MARKETING_WEEKLY_CAP_PER_CLIENT
    if not cap:
        return None
    recent = (
        Message.objects.filter(
            client_id=message.client_id, category=Category.MARKETING, sent_at__gte=now - timedelta(days=7)
        )
        .exclude(pk=message.pk)
        .count()
    )
    if recent >= cap:
        return f"weekly marketing cap of {cap} reached"
    return None


def sms_sent_this_month(now) -> int:
    """SMS sent since the 1st of the studio's month (what the monthly cap counts)."""
    return _sms_sent_this_month(now)


def _sms_sent_this_month(now) -> int:
    month_start = studio_midnight(studio_today(now).replace(day=1))
    return Message.objects.filter(
        channel=Channel.SMS, direction=Message.Direction.OUTBOUND, sent_at__gte=month_start
    ).count()


def quiet_hours_resume_at(now: datetime, tz: ZoneInfo) -> datetime | None:
    """When quiet hours are on in ``tz`` at ``now``, the (UTC) moment they end; else ``None``.

    Computed on the local wall clock, so the answer stays 08:00 local across a
    DST change in the night.
    """
    start, end = settings.QUIET_HOURS_START, settings.QUIET_HOURS_END
    if start == end:
        return None
    local = now.astimezone(tz)
    hour = local.hour
    if start > end:  # the window spans midnight, e.g. 21 → 8
        if not (hour >= start or hour < end):
            return None
        day = local.date() if hour < end else local.date() + timedelta(days=1)
    else:
        if not (start <= hour < end):
            return None
        day = local.date()
    return datetime.combine(day, dtime(end), tzinfo=tz).astimezone(UTC)


# --- Recovery -------------------------------------------------------------------------


def recover_stuck(*, now=None) -> int:
    """Release messages a killed worker left in ``sending`` (policy in the module docstring)."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.MESSAGING_SENDING_TIMEOUT_SECONDS)
    stuck = (
        Message.objects.filter(status=Status.SENDING, claimed_at__lt=cutoff)
        .order_by("claimed_at", "pk")
        .values_list("pk", "channel", "claimed_at")
    )
    requeue, unknown, batches_seen = [], [], set()
    for pk, channel, claimed_at in stuck:
        first_of_batch = claimed_at not in batches_seen
        batches_seen.add(claimed_at)
        if first_of_batch and channel != Channel.IN_APP:
            unknown.append(pk)
        else:
            requeue.append(pk)
    if not requeue and not unknown:
        return 0
    Message.objects.filter(pk__in=requeue, status=Status.SENDING).update(
        status=Status.QUEUED, claimed_at=None, next_attempt_at=now, updated_at=now
    )
    error = f"{OUTCOME_UNKNOWN} The worker stopped while the provider was being called."
    Message.objects.filter(pk__in=unknown, status=Status.SENDING).update(
        status=Status.FAILED, error=error, failed_at=now, attempts=F("attempts") + 1, updated_at=now
    )
    MessageEvent.objects.bulk_create(
        [
            MessageEvent(
                message_id=pk, status=Status.QUEUED, source="system", detail="recovered from a stopped worker"
            )
            for pk in requeue
        ]
        + [MessageEvent(message_id=pk, status=Status.FAILED, source="system", detail=error) for pk in unknown]
    )
    logger.warning(
        "recovered %s stuck message(s): %s re-queued, %s outcome unknown",
        len(requeue) + len(unknown),
        len(requeue),
        len(unknown),
        extra={"requeued_message_ids": requeue, "outcome_unknown_message_ids": unknown},
    )
    return len(requeue) + len(unknown)


def deliver_test_email(*, message_id: int) -> bool:
    """The task behind ``send_test_email``; returns whether the email went out."""
    now = timezone.now()
    # attempts 0 → 1 is the claim: a retried task does not send the test twice.
    claimed = Message.objects.filter(
        pk=message_id, client__isnull=True, status=Status.SENDING, attempts=0
    ).update(attempts=F("attempts") + 1, updated_at=now)
    if not claimed:
        return False
    message = Message.objects.get(pk=message_id)
    channel = get_channel(Channel.EMAIL)
    channel.open()
    try:
        result = channel.send(message)
    except DeliveryError as exc:
        done = timezone.now()
        Message.objects.filter(pk=message_id).update(
            status=Status.FAILED, error=str(exc)[:2000], failed_at=done, updated_at=done
        )
        return False
    finally:
        channel.close()
    done = timezone.now()
    Message.objects.filter(pk=message_id).update(
        status=Status.SENT,
        provider_id=result.provider_id,
        from_address=result.from_address,
        sent_at=done,
        updated_at=done,
    )
    return True
