"""The client portal: no password, a signed link that opens one client's page.

Every view starts from the client the token names and looks everything else
up *through* that client, so no URL can reach another client's data. A bad,
expired or revoked link gets a friendly page that offers nothing.
"""

from datetime import UTC, datetime
from functools import wraps
from itertools import groupby

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from billing import charges
from billing.credits import client_credit_summary
from billing.models import Payment
from billing.selectors import client_balance
from billing.stripe_links import pay_link
from common.ids import parse_pk
from messaging.models import Message, SlotOffer
from messaging.portal import services
from messaging.portal.forms import PreferencesForm, ReplyForm, WaitlistForm
from messaging.portal.tokens import InvalidPortalToken, client_from_token
from scheduling import booking, ics
from scheduling import waitlist as waitlist_services
from scheduling.models import Session


def _protect(response):
    # The token is in the URL: keep it out of other sites' Referer headers and
    # out of search engines. Not "no-referrer": browsers then send "Origin: null"
    # with the page's own forms, and the CSRF check rightly refuses them.
    response["Referrer-Policy"] = "same-origin"
    response["X-Robots-Tag"] = "noindex, nofollow"
    return response


def invalid_link(request, status=404):
    return _protect(TemplateResponse(request, "portal/invalid_link.html", {}, status=status))


def portal_view(view):
    @wraps(view)
    @never_cache
    def wrapper(request, token, **kwargs):
        try:
            client = client_from_token(token)
        except InvalidPortalToken:
            return invalid_link(request)
        return _protect(view(request, client, token, **kwargs))

    return wrapper


def _session_or_none(client, session_id):
    return client.sessions.filter(pk=session_id).first()


def _base_context(client, token, *, policy=None, **extra):
    policy = policy or charges.studio_policy()
    return {
        "client": client,
        "token": token,
        "now": timezone.now(),
        "policy": policy,
        "cancellation_policy": charges.policy_text(policy),
        **extra,
    }


def _open_payments(client) -> list[Payment]:
    payments = list(
        client.payments.filter(status__in=[Payment.Status.PENDING, Payment.Status.OVERDUE]).order_by(
            "due_date", "pk"
        )
    )
    for payment in payments:
        payment.pay_url = pay_link(payment)  # "" when the studio takes no online payments
    return payments


def _home_context(client, token, *, reply_form=None, preferences_form=None):
    # Read the list before marking it read, so this visit can still show what is new.
    thread = list(services.portal_messages(client=client))
    policy = charges.studio_policy()
    can_book = booking.self_booking_refusal(client) is None
    waiting = _waiting(client)
    return _base_context(
        client,
        token,
        policy=policy,
        thread=thread,
        new_count=sum(
            1
            for m in thread
            if m.direction == Message.Direction.OUTBOUND and m.status in services.UNREAD_STATUSES
        ),
        reply_form=reply_form or ReplyForm(),
        # (session, free to cancel, what a late cancellation costs when clients may cancel late)
        sessions=[
            (
                session,
                services.can_cancel(session, policy=policy),
                services.late_cancel_terms(session, policy=policy),
            )
            for session in services.upcoming_sessions(client=client)
        ],
        can_book=can_book,
        waiting=waiting,
        stopped_looking=_stopped_looking(waiting, client) if can_book else "",
        payments=_open_payments(client),
        packages=client_credit_summary(client),
        balance=client_balance(client),
        preferences_form=preferences_form
        or PreferencesForm(client=client, preferences=services.effective_preferences(client)),
    )


def _waiting(client):
    """(request, its words) of the client's waiting request, or None."""
    current = waitlist_services.waiting_request(client)
    return current and (current, services.describe_request(current))


def _stopped_looking(waiting, client) -> str:
    """Why nothing waits any more, when the client's booking ended their request."""
    return "" if waiting else services.describe_stopped_looking(client)


@require_GET
@portal_view
def home(request, client, token):
    context = _home_context(client, token)
    services.portal_mark_read(client=client, messages=context["thread"])
    return TemplateResponse(request, "portal/home.html", context)


@require_POST
@portal_view
def reply(request, client, token):
    form = ReplyForm(request.POST)
    if form.is_valid():
        try:
            services.portal_reply(client=client, body=form.cleaned_data["body"])
        except ValidationError as exc:
            form.add_error("body", exc)
    if not form.is_valid():
        context = _home_context(client, token, reply_form=form)
        return TemplateResponse(request, "portal/home.html", context, status=400)
    messages.success(request, "Message sent. Your trainer will see it in their inbox.")
    return redirect("portal:home", token=token)


@require_POST
@portal_view
def preferences(request, client, token):
    form = PreferencesForm(request.POST, client=client, preferences=services.effective_preferences(client))
    if not form.is_valid():
        return TemplateResponse(
            request, "portal/home.html", _home_context(client, token, preferences_form=form), status=400
        )
    changed = services.portal_set_preferences(client=client, wanted=form.wanted())
    messages.success(request, "Preferences saved." if changed else "No changes to save.")
    return redirect("portal:home", token=token)


@require_GET
@portal_view
def session_detail(request, client, token, session_id):
    session = _session_or_none(client, session_id)
    if session is None:
        return invalid_link(request)
    action = request.GET.get("action", "")
    policy = charges.studio_policy()
    context = _base_context(
        client,
        token,
        policy=policy,
        session=session,
        action=action if action in ("confirm", "cancel") else "",
        is_upcoming=session.status == Session.Status.SCHEDULED and session.starts_at > timezone.now(),
        can_cancel=services.can_cancel(session, policy=policy),
        late_terms=services.late_cancel_terms(session, policy=policy),
        deadline=services.cancellation_deadline(session, policy),
    )
    return TemplateResponse(request, "portal/session.html", context)


@require_GET
@portal_view
def session_ics(request, client, token, session_id):
    """ "Add to calendar": the session's own event (the UID and SEQUENCE its emails carry)."""
    session = client.sessions.select_related("trainer").filter(pk=session_id).first()
    if session is None:
        return invalid_link(request)
    body = ics.client_invitation(session=session, now=timezone.now(), method=ics.PUBLISH)
    response = HttpResponse(body, content_type=f"{ics.CONTENT_TYPE}; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{ics.invitation_filename(session)}"'
    return response


def _session_action(request, client, token, session_id, service, done, **extra):
    try:
        service(client=client, session_id=session_id, **extra)
    except Session.DoesNotExist:
        return invalid_link(request)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("portal:session", token=token, session_id=session_id)
    messages.success(request, done)
    return redirect("portal:home", token=token)


@require_POST
@portal_view
def session_confirm(request, client, token, session_id):
    return _session_action(
        request, client, token, session_id, services.portal_confirm_session, "Thanks — session confirmed."
    )


@require_POST
@portal_view
def session_cancel(request, client, token, session_id):
    try:
        services.portal_cancel_session(
            client=client,
            session_id=session_id,
            reason=request.POST.get("reason", ""),
            # The form says what a late cancellation costs and sends late=1 only then.
            accept_late=request.POST.get("late") == "1",
        )
    except Session.DoesNotExist:
        return invalid_link(request)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        url = reverse("portal:session", args=[token, session_id])
        if exc.code == "late_not_accepted":
            return redirect(f"{url}?action=cancel#cancel-form")
        return redirect(url)
    messages.success(request, "Your session has been cancelled. Your trainer has been told.")
    return redirect("portal:home", token=token)


# --- Booking and moving sessions ----------------------------------------------------------


def parse_slot(value: str) -> datetime | None:
    """A slot from the page (ISO 8601 with its offset), as UTC; None for anything else."""
    try:
        moment = datetime.fromisoformat(value or "")
    except ValueError:
        return None
    if timezone.is_naive(moment):
        return None
    return moment.astimezone(UTC)


def _days(slots, tz):
    """Slots grouped by the client's calendar day: [(date, [slot, ...]), ...]."""
    return [(day, list(group)) for day, group in groupby(slots, key=lambda s: s.astimezone(tz).date())]


def _zone_label(client) -> str:
    tz = client.tzinfo
    return f"{tz.key} ({timezone.now().astimezone(tz):%Z})"


def _book_context(client, token, *, session_type=None, error=""):
    refusal = booking.self_booking_refusal(client)
    types = list(booking.bookable_types(client)) if refusal is None else []
    slots = []
    if session_type is not None and refusal is None:
        slots = booking.listed_slots(client=client, duration_minutes=session_type.duration_minutes)
    return _base_context(
        client,
        token,
        refusal=refusal,
        session_types=types,
        session_type=session_type,
        days=_days(slots, client.tzinfo),
        slot_base=session_type
        and f"{reverse('portal:book_confirm', args=[token])}?{urlencode({'type': session_type.pk})}&at=",
        zone_label=_zone_label(client),
        error=error,
    )


def _chosen_type(client, value):
    type_id = parse_pk(value or "")
    return booking.bookable_types(client).filter(pk=type_id).first() if type_id else None


@portal_view
def book(request, client, token):
    """Pick a session type, then one of the trainer's free slots; the confirm page books it."""
    if request.method == "POST":
        return _book_post(request, client, token)
    if request.method != "GET":
        return HttpResponse(status=405)
    session_type = _chosen_type(client, request.GET.get("type"))
    return TemplateResponse(
        request, "portal/book.html", _book_context(client, token, session_type=session_type)
    )


def _book_post(request, client, token):
    session_type = _chosen_type(client, request.POST.get("type"))
    starts_at = parse_slot(request.POST.get("at", ""))
    if session_type is None or starts_at is None:
        context = _book_context(client, token, session_type=session_type, error="Please pick a time below.")
        return TemplateResponse(request, "portal/book.html", context, status=400)
    try:
        services.portal_book_session(client=client, session_type_id=session_type.pk, starts_at=starts_at)
    except ValidationError as exc:
        context = _book_context(client, token, session_type=session_type, error=" ".join(exc.messages))
        status = 409 if isinstance(exc, booking.SlotTaken) else 400
        return TemplateResponse(request, "portal/book.html", context, status=status)
    messages.success(request, "Booked! Your session is in your upcoming sessions below.")
    return redirect("portal:home", token=token)


@require_GET
@portal_view
def book_confirm(request, client, token):
    session_type = _chosen_type(client, request.GET.get("type"))
    starts_at = parse_slot(request.GET.get("at", ""))
    if session_type is None or starts_at is None:
        return redirect(
            f"{reverse('portal:book', args=[token])}?{urlencode({'type': request.GET.get('type', '')})}"
        )
    context = _base_context(
        client, token, session_type=session_type, starts_at=starts_at, zone_label=_zone_label(client)
    )
    return TemplateResponse(request, "portal/book_confirm.html", context)


def _reschedule_context(client, token, session, *, starts_at=None, error=""):
    policy = charges.studio_policy()
    allowed = (
        booking.can_reschedule(session, notice_hours=policy.late_cancel_window_hours)
        and booking.self_booking_refusal(client) is None
    )
    slots = []
    if allowed and starts_at is None:
        slots = booking.listed_slots(
            client=client, duration_minutes=session.duration_minutes, exclude_pk=session.pk
        )
    return _base_context(
        client,
        token,
        policy=policy,
        session=session,
        allowed=allowed,
        refusal=booking.self_booking_refusal(client),
        starts_at=starts_at,
        days=_days([s for s in slots if s != session.starts_at], client.tzinfo),
        slot_base=f"{reverse('portal:session_reschedule', args=[token, session.pk])}?at=",
        zone_label=_zone_label(client),
        error=error,
    )


@portal_view
def session_reschedule(request, client, token, session_id):
    """Pick a new time for an upcoming session (outside the notice window), then confirm it."""
    session = _session_or_none(client, session_id)
    if session is None:
        return invalid_link(request)
    if request.method == "GET":
        context = _reschedule_context(client, token, session, starts_at=parse_slot(request.GET.get("at", "")))
        return TemplateResponse(request, "portal/reschedule.html", context)
    if request.method != "POST":
        return HttpResponse(status=405)
    starts_at = parse_slot(request.POST.get("at", ""))
    if starts_at is None:
        context = _reschedule_context(client, token, session, error="Please pick a time below.")
        return TemplateResponse(request, "portal/reschedule.html", context, status=400)
    try:
        services.portal_reschedule_session(client=client, session_id=session.pk, starts_at=starts_at)
    except Session.DoesNotExist:
        return invalid_link(request)
    except ValidationError as exc:
        session.refresh_from_db()
        context = _reschedule_context(client, token, session, error=" ".join(exc.messages))
        status = 409 if isinstance(exc, booking.SlotTaken) else 400
        return TemplateResponse(request, "portal/reschedule.html", context, status=status)
    messages.success(request, "Your session has been moved. Your trainer has been told.")
    return redirect("portal:home", token=token)


# --- The waitlist and its offers ----------------------------------------------------------


def _waitlist_context(client, token, *, form=None, error=""):
    refusal = booking.self_booking_refusal(client)
    today = waitlist_services.client_today(client)
    last_day = waitlist_services.last_window_day(client) if refusal is None else None
    channels = waitlist_services.offer_channels(client)
    waiting = _waiting(client)
    if form is None:
        form = WaitlistForm(
            client=client,
            types=booking.bookable_types(client),
            channels=channels,
            today=today,
            last_day=last_day,
        )
    return _base_context(
        client,
        token,
        refusal=refusal,
        no_availability=refusal is None and last_day is None,
        channels=channels,
        waiting=waiting,
        stopped_looking=_stopped_looking(waiting, client),
        form=form,
        error=error,
    )


@portal_view
def waitlist(request, client, token):
    """ "Tell me when a time opens up": the client's waiting request, and the form to ask."""
    if request.method == "GET":
        return TemplateResponse(request, "portal/waitlist.html", _waitlist_context(client, token))
    if request.method != "POST":
        return HttpResponse(status=405)
    form = WaitlistForm(
        request.POST,
        client=client,
        types=booking.bookable_types(client),
        channels=waitlist_services.offer_channels(client),
        today=waitlist_services.client_today(client),
        last_day=waitlist_services.last_window_day(client),
    )
    if form.is_valid():
        try:
            created = services.portal_join_waitlist(client=client, **form.wanted())
        except ValidationError as exc:
            form.add_error(None, exc)
    if not form.is_valid():
        context = _waitlist_context(client, token, form=form)
        return TemplateResponse(request, "portal/waitlist.html", context, status=400)
    messages.success(
        request,
        f"Done: we will tell you when a time opens up ({services.describe_request(created)}). "
        "Whoever books first gets it.",
    )
    return redirect("portal:home", token=token)


@require_POST
@portal_view
def waitlist_withdraw(request, client, token, request_id):
    if services.portal_withdraw_waitlist(client=client, request_id=request_id):
        messages.success(request, "Done: we will not send you more offers of free times.")
    return redirect("portal:home", token=token)


@portal_view
def offer(request, client, token, offer_id):
    """A freed time offered to this client: Book, unless someone else was quicker."""
    try:
        slot_offer = services.client_offer(client=client, offer_id=offer_id)
    except SlotOffer.DoesNotExist:
        return invalid_link(request)
    error, status = "", 200
    if request.method == "POST":
        try:
            services.portal_book_offer(client=client, offer_id=slot_offer.pk)
        except ValidationError as exc:
            error, status = " ".join(exc.messages), 409
            slot_offer = services.client_offer(client=client, offer_id=offer_id)
        else:
            messages.success(request, "Booked! Your session is in your upcoming sessions below.")
            return redirect("portal:home", token=token)
    elif request.method != "GET":
        return HttpResponse(status=405)
    context = _base_context(
        client,
        token,
        offer=slot_offer,
        state=services.offer_state(slot_offer),
        error=error,
        zone_label=_zone_label(client),
        book_again=f"{reverse('portal:book', args=[token])}?{urlencode({'type': slot_offer.session_type_id})}",
    )
    return TemplateResponse(request, "portal/offer.html", context, status=status)
