"""What a client can do from the portal. Each write goes through the owning app's service."""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from billing import charges
from billing.policy import SessionCharge, StudioPolicy
from clients.models import Category, Channel, Client, ConsentChange
from clients.services import PREFERENCE_FIELDS, client_set_preference
from common.timefmt import client_time, utc_stamp
from messaging.activity import client_replied, record_client_activity
from messaging.models import ClientActivity, Message, SlotOffer
from messaging.services import client_read_messages
from scheduling import booking, waitlist
from scheduling import services as scheduling_services
from scheduling.models import Session

REPLY_MAX_LENGTH = 2000

# What the client sees: in-app messages that reached them (delivery is what
# puts an in-app message in front of the client) and their own replies.
VISIBLE_STATUSES = (
    Message.Status.SENT,
    Message.Status.DELIVERED,
    Message.Status.READ,
    Message.Status.RECEIVED,
)
UNREAD_STATUSES = (Message.Status.SENT, Message.Status.DELIVERED)


def portal_messages(*, client: Client):
    return Message.objects.filter(
        client=client, channel=Channel.IN_APP, status__in=VISIBLE_STATUSES
    ).order_by("created_at", "pk")


def portal_mark_read(*, client: Client, messages) -> int:
    """The client opened their page: the in-app messages it showed them become ``read``."""
    return client_read_messages(
        client=client, message_ids=[m.pk for m in messages if m.direction == Message.Direction.OUTBOUND]
    )


def portal_reply(*, client: Client, body: str) -> Message:
    """A message from the client; it lands unread in the trainer's inbox."""
    body = body.strip()
    if not body:
        raise ValidationError("Write a message first.", code="empty")
    if len(body) > REPLY_MAX_LENGTH:
        raise ValidationError(f"Keep it under {REPLY_MAX_LENGTH} characters.", code="too_long")
    with transaction.atomic():
        message = Message.objects.create(
            client=client,
            channel=Channel.IN_APP,
            category=Category.TRANSACTIONAL,
            direction=Message.Direction.INBOUND,
            status=Message.Status.RECEIVED,
            body=body,
        )
        client_replied(message=message)
    return message


def upcoming_sessions(*, client: Client):
    # The type with each: a late cancellation's terms quote a fee from its price.
    return (
        client.sessions.filter(status=Session.Status.SCHEDULED, starts_at__gt=timezone.now())
        .select_related("session_type")
        .order_by("starts_at")
    )


def cancellation_deadline(session: Session, policy: StudioPolicy | None = None):
    """Until then the client cancels (or moves) for free: the studio policy's window."""
    return charges.late_cancel_deadline(session, policy)


def can_cancel(session: Session, *, now=None, policy: StudioPolicy | None = None) -> bool:
    """A free cancellation (outside the late-cancel window)."""
    return (now or timezone.now()) < cancellation_deadline(session, policy)


def late_cancel_terms(session: Session, *, now=None, policy: StudioPolicy | None = None) -> str:
    """What cancelling ``session`` now would cost, in the client's words ("a fee of £20.00
    applies"); empty when it is free or when clients may not cancel late online."""
    policy = policy or charges.studio_policy()
    if can_cancel(session, now=now, policy=policy) or not policy.clients_may_cancel_late:
        return ""
    return charges.decide(session, SessionCharge.Kind.LATE_CANCEL, policy=policy, at=now).for_client()


def _locked_session(*, client: Client, session_id: int) -> Session:
    # Only this client's sessions exist here; another client's id is "not found".
    try:
        return Session.objects.select_for_update().select_related("client").get(pk=session_id, client=client)
    except Session.DoesNotExist:
        raise Session.DoesNotExist("No such session for this client.") from None


CANCEL_REASON_MAX_LENGTH = 500


@transaction.atomic
def portal_confirm_session(*, client: Client, session_id: int) -> Session:
    session = _locked_session(client=client, session_id=session_id)
    if session.starts_at <= timezone.now():
        raise ValidationError("This session has already started.", code="started")
    already = session.confirmed_at is not None
    session = scheduling_services.session_confirm(session=session)
    if not already:
        record_client_activity(client=client, kind=ClientActivity.Kind.CONFIRMED, session=session)
    return session


def portal_cancel_session(
    *, client: Client, session_id: int, reason: str = "", accept_late: bool = False
) -> Session:
    """Cancel as the client, under the studio's policy.

    Inside the late-cancel window it is refused, unless the studio lets clients cancel
    late online and the client accepted what it costs (``accept_late``: the page told
    them); the policy's charge then applies (``billing.charges``, from the status change).
    Either way the trainer hears of it: the cancellation (with the client's reason),
    or the refused attempt, which is recorded after the refusal has rolled back.
    """
    reason = " ".join(reason.split())[:CANCEL_REASON_MAX_LENGTH]
    try:
        return _cancel(client=client, session_id=session_id, reason=reason, accept_late=accept_late)
    except ValidationError as exc:
        if exc.code == "notice_period":
            _record_refusal(client=client, session_id=session_id, reason=reason)
        raise


@transaction.atomic
def _cancel(*, client, session_id, reason, accept_late):
    session = _locked_session(client=client, session_id=session_id)
    policy = charges.studio_policy()
    # The scheduling service saves the session, so the same events fire as
    # when a trainer cancels.
    session = scheduling_services.session_cancel(
        session=session, by=Session.CancelledBy.CLIENT, reason=reason
    )
    # Judged at the moment of the cancellation itself (the charge is), so a click on a
    # "free" page that lands a moment after the deadline is asked again, not charged.
    if charges.late_cancel_applies(session, policy=policy):
        if not policy.clients_may_cancel_late:
            raise ValidationError(charges.policy_text(policy), code="notice_period")
        if not accept_late:
            raise ValidationError(
                "The free cancellation period has just ended. Please look at what a late "
                "cancellation costs and confirm again.",
                code="late_not_accepted",
            )
    record_client_activity(client=client, kind=ClientActivity.Kind.CANCELLED, session=session, detail=reason)
    return session


def _record_refusal(*, client, session_id, reason):
    session = client.sessions.filter(pk=session_id).first()
    # Once per session is enough to know; pressing the button again adds nothing.
    if (
        session is None
        or ClientActivity.objects.filter(
            session=session, kind=ClientActivity.Kind.LATE_CANCEL_REFUSED
        ).exists()
    ):
        return
    with transaction.atomic():
        record_client_activity(
            client=client, kind=ClientActivity.Kind.LATE_CANCEL_REFUSED, session=session, detail=reason
        )


# --- Booking and moving sessions --------------------------------------------------------


def portal_book_session(*, client: Client, session_type_id: int, starts_at) -> Session:
    """The client books a free slot of their trainer; the trainer sees it in her inbox.

    ``booking.SlotTaken`` when another client was quicker.
    """
    with transaction.atomic():
        session = booking.client_book_session(
            client=client, session_type_id=session_type_id, starts_at=starts_at
        )
        record_client_activity(client=client, kind=ClientActivity.Kind.BOOKED, session=session)
    return session


def portal_reschedule_session(*, client: Client, session_id: int, starts_at) -> Session:
    """The client moves a session to another free slot, outside the cancellation notice window.

    The trainer is told in her inbox (and by email if she asked), with the old time.
    """
    with transaction.atomic():
        before = client.sessions.filter(pk=session_id).values_list("starts_at", flat=True).first()
        session = booking.client_reschedule_session(
            client=client,
            session_id=session_id,
            starts_at=starts_at,
            notice_hours=charges.studio_policy().late_cancel_window_hours,
        )
        record_client_activity(
            client=client,
            kind=ClientActivity.Kind.RESCHEDULED,
            session=session,
            detail=f"was {utc_stamp(before)}" if before else "",
        )
    return session


# --- The waitlist: "tell me when a time opens up", and the offers it brings -------------------


def describe_request(request) -> str:
    """ "Mon 1 Mar – Sun 7 Mar, any session, by SMS": the window in the client's words."""
    a, b = request.from_date, request.until_date
    window = f"{a:%a} {a.day} {a:%b}" if a == b else f"{a:%a} {a.day} {a:%b} – {b:%a} {b.day} {b:%b}"
    what = request.session_type.name if request.session_type_id else "any session"
    return f"{window}, {what}, by {Channel(request.channel).label}"


def describe_stopped_looking(client: Client) -> str:
    """ "You booked Tue 2 Mar, 11:00 — we have stopped looking for a time.", or "" when not so."""
    request = waitlist.stopped_looking(client)
    if request is None:
        return ""
    starts_at = request.booked_session.starts_at
    local = starts_at.astimezone(client.tzinfo)
    when = f"{local:%a} {local.day} {local:%b}, {client_time(starts_at, client.tzinfo)}"
    return f"You booked {when} — we have stopped looking for a time."


def portal_join_waitlist(*, client: Client, **wanted):
    """The client asks to be told when a time opens up; the trainer sees it in her inbox."""
    with transaction.atomic():
        request = waitlist.waitlist_join(client=client, **wanted)
        record_client_activity(
            client=client, kind=ClientActivity.Kind.WAITLIST_JOINED, detail=describe_request(request)
        )
    return request


def portal_withdraw_waitlist(*, client: Client, request_id: int) -> bool:
    return waitlist.waitlist_withdraw(client=client, request_id=request_id)


class OfferGone(ValidationError):
    """The offered time cannot be booked any more: someone was quicker, or it has passed."""

    def __init__(self, message="Sorry, this time has just been taken.", code="taken"):
        super().__init__(message, code=code)


def client_offer(*, client: Client, offer_id: int) -> SlotOffer:
    """One of the client's offers (another client's id is "not found")."""
    return SlotOffer.objects.select_related("request", "session_type", "booked_session").get(
        pk=offer_id, request__client=client
    )


def offer_state(offer: SlotOffer, *, now=None) -> str:
    """What the offer page shows: booked (by this client), passed, taken, or open."""
    now = now or timezone.now()
    if offer.status == SlotOffer.Status.BOOKED:
        return "booked"
    if offer.starts_at <= now:
        return "passed"
    if offer.status == SlotOffer.Status.TAKEN or not booking.is_free_slot(
        trainer=offer.request.trainer_id,
        duration_minutes=offer.duration_minutes,
        starts_at=offer.starts_at,
        now=now,
    ):
        return "taken"
    return "open"


def portal_book_offer(*, client: Client, offer_id: int) -> Session:
    """Book the offered time, if nobody was quicker: the portal's ordinary race-safe booking.

    ``OfferGone`` when it was taken or has passed (the offer is then marked taken
    for staff). The request it answered asks for nothing more; the other offers
    of the same time are marked taken.
    """
    try:
        return _book_offer(client=client, offer_id=offer_id)
    except booking.SlotTaken:
        # After the rollback: staff see which offers came too late.
        SlotOffer.objects.filter(pk=offer_id, status=SlotOffer.Status.OPEN).update(
            status=SlotOffer.Status.TAKEN, updated_at=timezone.now()
        )
        raise OfferGone() from None


@transaction.atomic
def _book_offer(*, client: Client, offer_id: int) -> Session:
    # The diary first, then the offer: every booking takes the trainer's lock first.
    booking.lock_diary(client)
    offer = (
        SlotOffer.objects.select_for_update()
        .select_related("request")
        .get(pk=offer_id, request__client=client)
    )
    if offer.status == SlotOffer.Status.BOOKED:
        raise ValidationError("You have already booked this time.", code="already_booked")
    if offer.starts_at <= timezone.now():
        raise OfferGone("This time has passed.", code="passed")
    session = booking.client_book_session(
        client=client, session_type_id=offer.session_type_id, starts_at=offer.starts_at
    )
    now = timezone.now()
    # The booking itself marked the open offers of this time taken, this one included
    # (messaging.waitlist.offers_taken), and ended the request: this one is booked.
    SlotOffer.objects.filter(pk=offer.pk).update(
        status=SlotOffer.Status.BOOKED, booked_session=session, booked_at=now, updated_at=now
    )
    waitlist.waitlist_booked(request=offer.request, session=session, now=now)
    record_client_activity(
        client=client, kind=ClientActivity.Kind.BOOKED, session=session, detail="from a waitlist offer"
    )
    return session


def effective_preferences(client: Client) -> dict[tuple[str, str], bool]:
    """What the client has asked for, per channel and category, as the portal shows it."""
    prefs = {}
    for (channel, category), field in PREFERENCE_FIELDS.items():
        on = getattr(client, field)
        if channel == Channel.EMAIL and client.email_unsubscribed_at:
            on = False
        prefs[(channel, category)] = on
    return prefs


def portal_set_preferences(*, client: Client, wanted: dict[tuple[str, str], bool]) -> list[tuple[str, str]]:
    """Apply the changes only; each one is recorded with its time and the portal as source."""
    changed = []
    with transaction.atomic():
        # Grants first: turning email back on lifts a blanket unsubscribe, which
        # may switch other email categories back on that the client still wants off.
        for key, granted in sorted(wanted.items(), key=lambda item: not item[1]):
            if key in PREFERENCE_FIELDS and effective_preferences(client)[key] != granted:
                channel, category = key
                client_set_preference(
                    client=client,
                    channel=channel,
                    category=category,
                    granted=granted,
                    source=ConsentChange.Source.PORTAL,
                )
                changed.append(key)
    return changed
