"""Firing rules: one AutomationLog row per (rule, occurrence), then at most one message.

The once-only guard is the database's unique constraint on (rule, occurrence_key):
``fire_occurrences`` claims a batch of occurrences with one
``INSERT ... ON CONFLICT DO NOTHING RETURNING`` and only handles the rows it
inserted. A concurrent scan, worker or cron run that races for the same
occurrence waits on the uncommitted row and then inserts nothing, so each
occurrence produces one message however many processes look at it.

Inside the same transaction, after the claim, every target is loaded again (one
query per kind, with its client) and its conditions re-checked (a session
cancelled or moved a second ago is skipped, not reminded), then consent, then the
batch's messages are created with one INSERT (``messaging.services.send_messages``)
and attached to their log rows with one UPDATE: a batch of 200 costs a handful
of queries, not one per message. Consent is checked again when each message is
sent. A failure while handling one occurrence (a broken template, an unexpected
error) is recorded on its log row and the others carry on.
"""

import logging
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone

from automation import merging
from automation.models import AutomationLog, AutomationRule, TriggerEvent
from billing.credits import packages_with_credits
from billing.models import ClientPackage, Payment
from clients.models import Channel, Client
from common.clock import studio_today
from messaging import services as messaging_services
from messaging import templating
from messaging.services import Attachment, Outgoing
from scheduling import ics
from scheduling.models import Session

logger = logging.getLogger(__name__)

Event = TriggerEvent
LogStatus = AutomationLog.Status

#: Occurrences claimed and handled per transaction (one delivery kick each): a few
#: queries each, so 1,000 reminders due at 09:00 cost about twenty.
BATCH_SIZE = 500

# Outcomes reported per rule besides the log statuses.
ALREADY = "already"  # another scan or worker fired it first
WOULD_SEND = "would_send"  # dry run


# --- Occurrence keys -------------------------------------------------------------------------


def _utc_minute(moment: datetime) -> str:
    moment = moment.astimezone(UTC)
    if moment.second or moment.microsecond:
        return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return moment.strftime("%Y-%m-%dT%H:%MZ")


def session_created_key(session_id) -> str:
    return f"session:{session_id}:created"


def session_start_key(session_id, starts_at: datetime) -> str:
    # The start is part of the key: a moved session is a new occurrence.
    return f"session:{session_id}:start={_utc_minute(starts_at)}"


def session_cancelled_key(session_id) -> str:
    return f"session:{session_id}:cancelled"


def session_charge_key(session_id, event: str) -> str:
    """A no-show's or late cancellation's key: once per session (``session:7:no_show``)."""
    return f"session:{session_id}:{event.removeprefix('session_')}"


def session_moved_key(session_id, sequence: int) -> str:
    return f"session:{session_id}:moved#{sequence}"


def payment_created_key(payment_id) -> str:
    return f"payment:{payment_id}:created"


def payment_before_due_key(payment_id, due_date: date) -> str:
    return f"payment:{payment_id}:due={due_date.isoformat()}"


def payment_overdue_key(payment_id, offset_hours: int) -> str:
    return f"payment:{payment_id}:overdue+{offset_hours}h"


def birthday_key(client_id, year: int) -> str:
    return f"birthday:client:{client_id}:{year}"


def package_low_key(package_id, threshold: int) -> str:
    # The threshold is part of the key: a rule for "2 left" and one for "0 left" each fire once.
    return f"package:{package_id}:low<={threshold}"


def package_expiring_key(package_id, valid_until: date) -> str:
    return f"package:{package_id}:expiring={valid_until.isoformat()}"


# --- Occurrences -----------------------------------------------------------------------------

#: Events about the no-show and late-cancel policy's charge of a session (billing's
#: ``SessionCharge``): the session, its charge and the fee's payment go with them.
CHARGE_EVENTS = frozenset({Event.SESSION_NO_SHOW, Event.SESSION_LATE_CANCELLED})
_CHARGED_STATUS = {
    Event.SESSION_NO_SHOW: Session.Status.NO_SHOW,
    Event.SESSION_LATE_CANCELLED: Session.Status.CANCELLED,
}


@dataclass
class Occurrence:
    rule: AutomationRule
    key: str
    client_id: int
    session_id: int | None = None
    payment_id: int | None = None
    package_id: int | None = None
    #: What the target looked like when the occurrence was found; re-checked before sending.
    expect_start: datetime | None = None
    expect_due: date | None = None
    expect_status: str | None = None
    expect_sequence: int | None = None
    birthday: date | None = None
    #: Decided already (e.g. a late booking under the "skip" policy): log it as skipped.
    skip_reason: str = ""
    #: When it falls due and whose client it is, as the scan's finders saw them (the
    #: forecast judges it at ``due_at`` and shows a trainer only her own clients').
    due_at: datetime | None = None
    trainer_id: int | None = None
    #: Occurrences of one rule and client with the same group (a weekly series) go as one message.
    group: str = ""


@dataclass
class FireResult:
    #: rule id -> Counter of outcomes (sent, skipped, failed, already, would_send)
    per_rule: dict = field(default_factory=lambda: defaultdict(Counter))

    def add(self, rule_id, outcome, n=1):
        self.per_rule[rule_id][outcome] += n

    def merge(self, other: "FireResult"):
        for rule_id, counts in other.per_rule.items():
            self.per_rule[rule_id].update(counts)

    def total(self, outcome) -> int:
        return sum(c[outcome] for c in self.per_rule.values())


@dataclass
class _Targets:
    sessions: dict = field(default_factory=dict)
    payments: dict = field(default_factory=dict)
    packages: dict = field(default_factory=dict)
    clients: dict = field(default_factory=dict)


def _load_targets(occurrences) -> _Targets:
    """The current rows, read after the claim (one query per kind)."""
    session_ids = {o.session_id for o in occurrences if o.session_id}
    payment_ids = {o.payment_id for o in occurrences if o.payment_id}
    package_ids = {o.package_id for o in occurrences if o.package_id}
    client_ids = {
        o.client_id for o in occurrences if not o.session_id and not o.payment_id and not o.package_id
    }
    targets = _Targets()
    if session_ids:
        # The session's own trainer is the one a message names; the client's is not needed.
        related = ["client", "trainer"]
        if any(o.rule.trigger_event in CHARGE_EVENTS for o in occurrences):
            related.append("charge__fee_payment")
        targets.sessions = Session.objects.select_related(*related).in_bulk(session_ids)
    if payment_ids:
        targets.payments = Payment.objects.select_related("client__trainer").in_bulk(payment_ids)
    if package_ids:
        # With credits left (the ledger's sum) in the same query.
        targets.packages = packages_with_credits(
            ClientPackage.objects.select_related("client__trainer", "package_type")
        ).in_bulk(package_ids)
    if client_ids:
        targets.clients = Client.objects.select_related("trainer").in_bulk(client_ids)
    return targets


def celebrated_on(birth_date: date, year: int) -> date:
    """29 February birthdays are celebrated on 28 February in other years."""
    try:
        return birth_date.replace(year=year)
    except ValueError:
        return date(year, 2, 28)


#: Why a rule with ``only_booked_by`` leaves a session out, by who booked it.
BOOKED_BY_SKIP_REASONS = {
    Session.BookedBy.STAFF: "booked by staff (the rule is for online bookings only)",
    Session.BookedBy.CLIENT: "booked online by the client (the rule is for staff bookings only)",
}


@dataclass(frozen=True)
class Verdict:
    """An occurrence's targets as they are now, and why it would be skipped (``None``: it is due)."""

    client: Client | None
    session: Session | None
    payment: Payment | None
    reason: str | None
    package: ClientPackage | None = None


def _judge_package(occ: Occurrence, package: ClientPackage, now: datetime) -> str | None:
    """Why a package message would be stale now (``None``: it is due)."""
    today = studio_today(now)
    if package.valid_until is not None and package.valid_until < today:
        return "package expired"
    if occ.rule.trigger_event == Event.PACKAGE_LOW:
        if package.credits_left > occ.rule.credits_threshold:
            return f"package has {package.credits_left} credits left again"
    elif occ.rule.trigger_event == Event.PACKAGE_EXPIRING:
        if package.valid_until != occ.expect_due:
            return "expiry date changed"
        if package.credits_left <= 0:
            return "no credits left to use"
    return None


def _judge(occ: Occurrence, targets: _Targets, now: datetime) -> Verdict:
    """Re-check one occurrence against its targets as loaded now."""
    event = occ.rule.trigger_event
    session = payment = None
    if occ.session_id:
        session = targets.sessions.get(occ.session_id)
        if session is None:
            return Verdict(None, None, None, "session deleted")
        client = session.client
        # Who booked never changes, so this reason comes before the session's state.
        if occ.rule.only_booked_by and session.booked_by != occ.rule.only_booked_by:
            return Verdict(client, session, None, BOOKED_BY_SKIP_REASONS[session.booked_by])
        if event in CHARGE_EVENTS:
            charge = _charge_of(session)
            if session.status != _CHARGED_STATUS[event]:
                return Verdict(client, session, None, f"session {session.get_status_display().lower()}")
            if charge is None:
                return Verdict(client, session, None, "no charge recorded for the session")
            if charge.is_waived:
                return Verdict(client, session, charge.fee_payment, "charge waived")
            payment = charge.fee_payment
        elif event == Event.SESSION_CANCELLED:
            if session.status != Session.Status.CANCELLED:
                return Verdict(client, session, None, "session is no longer cancelled")
        elif session.status != Session.Status.SCHEDULED:
            return Verdict(client, session, None, f"session {session.get_status_display().lower()}")
        if event == Event.SESSION_SCHEDULED:
            if session.starts_at != occ.expect_start:
                return Verdict(client, session, None, "session moved")
            if session.starts_at <= now:
                return Verdict(client, session, None, "session already started")
        if event == Event.SESSION_CREATED and session.starts_at <= now:
            return Verdict(client, session, None, "session already started")
        if event == Event.SESSION_MOVED:
            if session.sequence != occ.expect_sequence:
                return Verdict(client, session, None, "session moved again (the newer move is told)")
            if session.starts_at <= now:
                return Verdict(client, session, None, "session already started")
    elif occ.package_id:
        package = targets.packages.get(occ.package_id)
        if package is None:
            return Verdict(None, None, None, "package deleted")
        client = package.client
        if reason := _judge_package(occ, package, now):
            return Verdict(client, None, None, reason, package)
        if not occ.rule.in_scope(client):
            return Verdict(client, None, None, "rule out of scope (the client has another trainer)", package)
        reason = client.cannot_receive_reason(occ.rule.channel, occ.rule.effective_category)
        return Verdict(client, None, None, reason or None, package)
    elif occ.payment_id:
        payment = targets.payments.get(occ.payment_id)
        if payment is None:
            return Verdict(None, None, None, "payment deleted")
        client = payment.client
        if payment.status != occ.expect_status:
            return Verdict(client, None, payment, f"payment {payment.get_status_display().lower()}")
        if occ.expect_due and payment.due_date != occ.expect_due:
            return Verdict(client, None, payment, "due date changed")
    else:
        client = targets.clients.get(occ.client_id)
        if client is None:
            return Verdict(None, None, None, "client deleted")
        if event == Event.BIRTHDAY:
            if (
                client.birth_date is None
                or celebrated_on(client.birth_date, occ.birthday.year) != occ.birthday
            ):
                return Verdict(client, None, None, "birth date changed")
            if now.astimezone(client.tzinfo).date() != occ.birthday:
                return Verdict(client, None, None, "birthday is over")
    if not occ.rule.in_scope(client):
        return Verdict(client, session, payment, "rule out of scope (the client has another trainer)")
    if reason := client.cannot_receive_reason(occ.rule.channel, occ.rule.effective_category):
        return Verdict(client, session, payment, reason)
    return Verdict(client, session, payment, None)


def _charge_of(session):
    # The reverse one-to-one raises when there is none; loaded with the session.
    try:
        return session.charge
    except Session.charge.RelatedObjectDoesNotExist:
        return None


def _not_after(occ: Occurrence, client, session):
    if occ.rule.trigger_event in CHARGE_EVENTS:
        return None  # about something that already happened: never too late to tell
    if session is not None and occ.rule.trigger_event != Event.SESSION_CANCELLED:
        return session.starts_at
    if occ.birthday is not None:
        tz = client.tzinfo
        next_day = occ.birthday + timedelta(days=1)
        return datetime(next_day.year, next_day.month, next_day.day, tzinfo=tz)
    return None


class _Compiled:
    """Each rule's templates compiled once per batch."""

    def __init__(self):
        self._cache = {}

    def get(self, rule: AutomationRule):
        if rule.pk not in self._cache:
            subject = templating.compile_template(rule.subject_template or "")
            body = templating.compile_template(rule.body_template)
            names = templating.used_variables(subject) | templating.used_variables(body)
            self._cache[rule.pk] = (subject, body, names)
        return self._cache[rule.pk]


def _render(
    occ: Occurrence,
    client,
    session,
    payment,
    now,
    compiled: _Compiled,
    *,
    package=None,
    sample_links: bool = False,
) -> tuple[str, str]:
    rule = occ.rule
    subject_tpl, body_tpl, names = compiled.get(rule)
    charge = _charge_of(session) if session is not None and rule.trigger_event in CHARGE_EVENTS else None
    context = templating.context_for(
        client=client,
        session=session,
        payment=payment,
        charge=charge,
        package=package,
        now=now,
        names=names,
        sample_links=sample_links,
    )
    subject = templating.render(subject_tpl, context) if rule.channel == Channel.EMAIL else ""
    body = templating.render(body_tpl, context)
    if not body:
        raise ValueError("the message body rendered empty")
    return subject, body


def _describe(exc: Exception) -> str:
    if isinstance(exc, ValidationError):  # the rule's template: its own readable reason
        return " ".join(exc.messages)
    return f"{type(exc).__name__}: {exc}"


#: Emails about a booking, a new time or a cancellation carry the session as an
#: iCalendar invitation (REQUEST, or CANCEL), so the client's calendar follows it.
INVITATION_EVENTS = frozenset({Event.SESSION_CREATED, Event.SESSION_MOVED, Event.SESSION_CANCELLED})


def _attachments(occ: Occurrence, session, now) -> tuple:
    if (
        occ.rule.channel != Channel.EMAIL
        or session is None
        or occ.rule.trigger_event not in INVITATION_EVENTS
    ):
        return ()
    return (
        Attachment(
            filename=ics.invitation_filename(session),
            content=ics.client_invitation(session=session, now=now),
            content_type=ics.invitation_content_type(session),
        ),
    )


def _outgoing(occ: Occurrence, client, session, payment, subject, body, now) -> Outgoing:
    return Outgoing(
        client=client,
        channel=occ.rule.channel,
        body=body,
        subject=subject,
        category=occ.rule.effective_category,
        attachments=_attachments(occ, session, now),
        caused_by={
            "rule": occ.rule,
            "session": session,
            "payment": payment,
            "not_after": _not_after(occ, client, session),
        },
    )


# --- Claiming ---------------------------------------------------------------------------------


def _claim(occurrences, now) -> set:
    """Insert the log rows; return the (rule_id, key) pairs this call inserted.

    ON CONFLICT DO NOTHING: on PostgreSQL a row another transaction has inserted
    but not committed makes this statement wait, then skip it once that commits.
    Rows go in a fixed order so two claimers never wait on each other in a cycle.
    """
    table = AutomationLog._meta.db_table
    rows = sorted({(o.rule.pk, o.key): o for o in occurrences}.values(), key=lambda o: (o.rule.pk, o.key))
    values = ", ".join(["(%s, %s, %s, %s, %s, %s)"] * len(rows))
    params = []
    for o in rows:
        params += [o.rule.pk, o.key, LogStatus.PENDING, o.client_id, "", now]
    sql = (
        f"INSERT INTO {table} (rule_id, occurrence_key, status, client_id, error, created_at) "
        f"VALUES {values} ON CONFLICT (rule_id, occurrence_key) DO NOTHING "
        f"RETURNING id, rule_id, occurrence_key"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return {(rule_id, key): pk for pk, rule_id, key in cursor.fetchall()}


class _RetryCarefully(Exception):
    """Creating a message failed mid-batch: redo the batch with a savepoint per message."""


def fire_occurrences(occurrences, *, now: datetime | None = None, dry_run: bool = False) -> FireResult:
    """Fire each occurrence at most once, ever. Returns outcomes per rule."""
    now = now or timezone.now()
    result = FireResult()
    occurrences = list({(o.rule.pk, o.key): o for o in occurrences}.values())
    for start in range(0, len(occurrences), BATCH_SIZE):
        batch = occurrences[start : start + BATCH_SIZE]
        if dry_run:
            result.merge(_dry_run(batch, now))
            continue
        try:
            result.merge(_fire_batch(batch, now, careful=False))
        except _RetryCarefully:
            # The whole batch rolled back (claims included), so nothing is lost or doubled.
            logger.warning("automation: creating a message failed; retrying the batch one by one")
            result.merge(_fire_batch(batch, now, careful=True))
    return result


@transaction.atomic
def _fire_batch(batch, now, *, careful: bool) -> FireResult:
    """Claim, re-check and send one batch in one transaction.

    The usual path creates the batch's messages with one INSERT and no savepoint;
    when that fails the transaction may be unusable, so the batch is rolled back
    and redone ``careful``-ly, each message through ``send_message`` in its own
    savepoint, and the failure is recorded on that occurrence's log row.
    """
    result = FireResult()
    claimed = _claim(batch, now)
    mine = []
    for occ in batch:
        if (occ.rule.pk, occ.key) in claimed:
            mine.append(occ)
        else:
            result.add(occ.rule.pk, ALREADY)
    if not mine:
        return result
    targets = _load_targets(mine)
    compiled = _Compiled()
    logs, sends, groups = [], [], {}
    for occ in mine:
        log = AutomationLog(pk=claimed[(occ.rule.pk, occ.key)], client_id=occ.client_id)
        verdict = _judge(occ, targets, now)
        reason = occ.skip_reason or verdict.reason
        if verdict.client is None:
            log.client_id = None
        logs.append((occ, log))
        if reason:
            log.status, log.error = LogStatus.SKIPPED, reason
            continue
        key = merging.merge_key(occ, verdict.client)
        if key is None:
            sends.append([(occ, log, verdict)])
        elif key in groups:
            groups[key].append((occ, log, verdict))
        else:
            groups[key] = [(occ, log, verdict)]
            sends.append(groups[key])
    to_send = []
    for members in sends:
        try:
            outgoing = _merged_outgoing(members, now, compiled)
            if careful:
                with transaction.atomic():
                    message = messaging_services.send_message(
                        client=outgoing.client,
                        channel=outgoing.channel,
                        body=outgoing.body,
                        subject=outgoing.subject,
                        category=outgoing.category,
                        attachments=outgoing.attachments,
                        **outgoing.caused_by,
                    )
                for _, log, _ in members:
                    log.message = message
            else:
                to_send.append((members, outgoing))
            status, error = LogStatus.SENT, ""
        except Exception as exc:  # recorded on the log rows: the error is the rule's outcome
            logger.exception("automation rule %s failed for %s", members[0][0].rule.pk, members[0][0].key)
            status, error = LogStatus.FAILED, _describe(exc)
        for _, log, _ in members:
            log.status, log.error = status, error
            if len(members) > 1:
                log.note = merging.note(len(members), [(v.session, v.payment) for _, _, v in members])
    for occ, log in logs:
        result.add(occ.rule.pk, log.status)
    logs = [log for _, log in logs]
    if to_send:
        # Every message of the batch in one INSERT, still inside the transaction that
        # claimed and re-checked them.
        try:
            messages = messaging_services.send_messages([outgoing for _, outgoing in to_send])
        except Exception as exc:
            raise _RetryCarefully from exc
        for (members, _), message in zip(to_send, messages, strict=True):
            for _, log, _ in members:
                log.message = message
    _record(logs)
    return result


def _merged_outgoing(members, now, compiled) -> Outgoing:
    """One message for one or more occurrences of one rule and client (``automation.merging``).

    The first (earliest session) is rendered as usual; a merged message adds the list of
    everything it covers, each session's invitation, and stays worth sending while any
    of them is still ahead.
    """
    members = sorted(members, key=lambda m: (m[2].session.starts_at if m[2].session else now, m[0].key))
    occ, _, verdict = members[0]
    client, session, payment = verdict.client, verdict.session, verdict.payment
    subject, body = _render(occ, client, session, payment, now, compiled, package=verdict.package)
    outgoing = _outgoing(occ, client, session, payment, subject, body, now)
    if len(members) == 1:
        return outgoing
    covered = [(v.session, v.payment) for _, _, v in members]
    extra = merging.listing(covered, client)
    limits = [_not_after(o, client, v.session) for o, _, v in members]
    return Outgoing(
        client=client,
        channel=outgoing.channel,
        body=f"{body.rstrip()}\n\n{extra}" if extra else body,
        subject=outgoing.subject,
        category=outgoing.category,
        attachments=tuple(a for o, _, v in members for a in _attachments(o, v.session, now)),
        caused_by={
            **outgoing.caused_by,
            "not_after": None if None in limits else max(limits),
        },
    )


def _record(logs):
    """Write every outcome of the batch in one UPDATE ... FROM (VALUES ...)."""
    table = AutomationLog._meta.db_table
    values = ", ".join(["(%s, %s, %s, %s, %s, %s)"] * len(logs))
    params = []
    for log in logs:
        params += [
            log.pk,
            log.status,
            log.error,
            log.note,
            log.message.pk if log.message else None,
            log.client_id,
        ]
    sql = (
        f"WITH v (id, status, error, note, message_id, client_id) AS (VALUES {values}) "
        f"UPDATE {table} SET status = v.status, error = v.error, note = v.note, "
        f"message_id = CAST(v.message_id AS bigint), client_id = CAST(v.client_id AS bigint) "
        f"FROM v WHERE {table}.id = CAST(v.id AS bigint)"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def _dry_run(batch, now) -> FireResult:
    result = FireResult()
    fired = set(
        AutomationLog.objects.filter(
            rule_id__in={o.rule.pk for o in batch}, occurrence_key__in={o.key for o in batch}
        ).values_list("rule_id", "occurrence_key")
    )
    todo = [o for o in batch if (o.rule.pk, o.key) not in fired]
    for occ in batch:
        if (occ.rule.pk, occ.key) in fired:
            result.add(occ.rule.pk, ALREADY)
    targets = _load_targets(todo)
    for occ in todo:
        reason = occ.skip_reason or _judge(occ, targets, now).reason
        result.add(occ.rule.pk, LogStatus.SKIPPED if reason else WOULD_SEND)
    return result


@dataclass
class Preview:
    """One occurrence as the engine would judge it: ``reason`` is why it would be skipped."""

    occurrence: Occurrence
    client: object
    session: object
    payment: object
    reason: str | None
    package: object = None


def preview_occurrences(occurrences, *, now: datetime) -> list[Preview]:
    """The dry run of each occurrence not fired yet, one by one: the same re-check
    ``_fire_batch`` makes, at the occurrence's ``due_at`` (when the scan will make it)
    or ``now`` when that is later. Reads only (a log query, then one per kind of target).
    """
    occurrences = list({(o.rule.pk, o.key): o for o in occurrences}.values())
    if not occurrences:
        return []
    fired = set(
        AutomationLog.objects.filter(
            rule_id__in={o.rule.pk for o in occurrences}, occurrence_key__in={o.key for o in occurrences}
        ).values_list("rule_id", "occurrence_key")
    )
    todo = [o for o in occurrences if (o.rule.pk, o.key) not in fired]
    targets = _load_targets(todo)
    previews = []
    for occ in todo:
        at = max(occ.due_at or now, now)
        verdict = _judge(occ, targets, at)
        previews.append(
            Preview(
                occ,
                verdict.client,
                verdict.session,
                verdict.payment,
                occ.skip_reason or verdict.reason,
                verdict.package,
            )
        )
    return previews


def render_preview(previews: list[Preview], *, now: datetime) -> list[tuple[Preview, str, str, str]]:
    """(preview, subject, body, error) of each sendable preview, rendered as ``_fire_batch``
    renders it at the occurrence's due moment, with sample links (staff read these)."""
    compiled = _Compiled()
    rendered = []
    for p in previews:
        at = max(p.occurrence.due_at or now, now)
        try:
            subject, body = _render(
                p.occurrence,
                p.client,
                p.session,
                p.payment,
                at,
                compiled,
                package=p.package,
                sample_links=True,
            )
        except Exception as exc:  # shown beside the message: the forecast must not break the page
            rendered.append((p, "", "", _describe(exc)))
        else:
            rendered.append((p, subject, body, ""))
    return rendered
