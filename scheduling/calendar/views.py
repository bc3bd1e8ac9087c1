"""The staff calendar: a page, its JSON endpoints (FullCalendar's event format), and the
trainers' iCalendar subscription feeds.

Times cross the wire as the viewer's wall-clock time without an offset (the page runs
FullCalendar in UTC-coercion mode, so it shows exactly what it was sent): the
server reads and writes them in Django's current time zone, the viewer's. The
events endpoint also takes exact ISO instants with an offset.
"""

import zoneinfo
from datetime import UTC, datetime, timedelta
from functools import wraps

from django.contrib import admin, messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from clients.admin_scoping import staff_users
from clients.roles import TRAINER, has_role_perm, is_manager
from clients.selectors import visible_clients
from clients.validators import known_timezones
from common.clock import studio_tz
from common.ids import parse_pk
from scheduling import ics, services
from scheduling.calendar import selectors
from scheduling.calendar import services as calendar_services
from scheduling.models import MAX_DURATION_MINUTES, Session
from scheduling.selectors import visible_sessions

#: The widest window one request may ask for (a month view with its padding weeks).
MAX_WINDOW = timedelta(days=62)
CLIENT_RESULTS = 20
#: Trainer colours when several calendars are shown at once (colour-blind-safe set).
TRAINER_COLOURS = ["#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9", "#7a5195", "#444444"]
ACTIONS = {
    "complete": (services.session_mark_completed, "marked completed"),
    "no-show": (services.session_mark_no_show, "marked no-show"),
    "cancel": (services.session_cancel, "cancelled"),
}


class BadRequest(ValueError):
    """A parameter the endpoint cannot use: answered 400 with the reason."""


# --- Access -------------------------------------------------------------------------------------


def _allowed(user, perm: str) -> bool:
    return has_role_perm(user, perm)


def staff_json(perm: str):
    """Staff with ``perm`` only; JSON endpoints answer 403 rather than redirect to a login page."""

    def decorator(view):
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            if not _allowed(request.user, perm):
                return JsonResponse({"errors": ["Log in again: you are not allowed to do this."]}, status=403)
            return view(request, *args, **kwargs)

        return wrapper

    return decorator


def staff_page(view):
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not request.user.is_authenticated or not request.user.is_staff:
            return redirect_to_login(request.get_full_path(), reverse("admin:login"))
        if not _allowed(request.user, "scheduling.view_session"):
            return HttpResponse("You may not see sessions.", status=403)
        return view(request, *args, **kwargs)

    return wrapper


def _errors(exc: ValidationError | BadRequest, status=400) -> JsonResponse:
    messages_ = exc.messages if isinstance(exc, ValidationError) else [str(exc)]
    return JsonResponse({"errors": messages_}, status=status)


# --- Time on the wire ------------------------------------------------------------------------------


def _wall_clock(value: str, *, strict: bool) -> datetime:
    """An ISO date or date-time; without an offset it is the viewer's wall-clock time.

    ``strict``: refuse a wall-clock time the clock skips (the hour lost to a
    daylight-saving change) instead of guessing.
    """
    value = (value or "").strip()
    try:
        moment = parse_datetime(value)
        if moment is None:
            day = parse_date(value)
            moment = datetime.combine(day, datetime.min.time()) if day else None
    except ValueError:
        moment = None
    if moment is None:
        raise BadRequest(f"{value[:40]!r} is not an ISO date or date-time.")
    if not 1970 <= moment.year <= 2100:
        raise BadRequest("Pick a date between the years 1970 and 2100.")
    if timezone.is_aware(moment):
        return moment
    tz = timezone.get_current_timezone()
    aware = moment.replace(tzinfo=tz)
    if strict and aware.astimezone(UTC).astimezone(tz).replace(tzinfo=None) != moment:
        raise BadRequest(f"{moment:%H:%M} does not exist on {moment:%d %b %Y}: the clocks change that night.")
    return aware


def _local_iso(moment: datetime) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%dT%H:%M:%S")


def _window(request) -> tuple[datetime, datetime]:
    if not request.GET.get("start") or not request.GET.get("end"):
        raise BadRequest("start and end are required (ISO dates or date-times).")
    start = _wall_clock(request.GET["start"], strict=False)
    end = _wall_clock(request.GET["end"], strict=False)
    if end <= start:
        raise BadRequest("end must be after start.")
    if end - start > MAX_WINDOW:
        raise BadRequest(f"Ask for at most {MAX_WINDOW.days} days at a time.")
    return start, end


def _default_trainer_ids(user) -> list[int]:
    """A manager who has not picked opens on the studio's trainers (as many as there are
    colours); one who trains nobody would otherwise open on an empty week."""
    trainers = list(
        staff_users().filter(groups__name=TRAINER).values_list("pk", flat=True)[: len(TRAINER_COLOURS)]
    )
    return trainers or [user.pk]


def _trainer_ids(request, values) -> list[int]:
    """The calendars to show: a trainer sees her own; a manager picks any (default: the trainers)."""
    if not is_manager(request.user):
        return [request.user.pk]
    ids = []
    for value in values:
        pk = parse_pk(value)
        if pk is None:
            raise BadRequest(f"trainer={value[:20]!r} is not an id.")
        if pk not in ids:
            ids.append(pk)
    if len(ids) > len(TRAINER_COLOURS):
        raise BadRequest(f"Show at most {len(TRAINER_COLOURS)} trainers at once.")
    return ids or _default_trainer_ids(request.user)


# --- Events --------------------------------------------------------------------------------------


STATUS_LABELS = {
    "scheduled": "Scheduled",
    "confirmed": "Confirmed by the client",
    "completed": "Completed",
    "no_show": "No-show",
    "cancelled": "Cancelled",
}


def _name(user) -> str:
    return user.get_full_name() or user.get_username()


DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _actions(status: str) -> list[str]:
    allowed = services.ALLOWED_TRANSITIONS[status]
    return [
        name
        for name, target in (
            ("complete", Session.Status.COMPLETED),
            ("no-show", Session.Status.NO_SHOW),
            ("cancel", Session.Status.CANCELLED),
        )
        if target in allowed
    ]


ACTIONS_BY_STATUS = {status: _actions(status) for status in Session.Status.values}


class EventWriter:
    """FullCalendar event JSON for calendar cards, in the viewer's zone.

    What is the same for every event (the zone, now, URL shapes, client zones) is
    looked up once per response: per event, Django's current-zone lookup, ``reverse``
    and ``strftime`` cost more than the database query of a busy week.
    """

    def __init__(self, *, now: datetime | None = None, colours: dict | None = None):
        self.now = now or timezone.now()
        self.tz = timezone.get_current_timezone()
        self.colours = colours or {}
        self.admin_url = reverse("admin:scheduling_session_change", args=[0]).replace("/0/", "/{}/")
        self.inbox_url = reverse("inbox:thread", args=[0]).replace("/0/", "/{}/")
        self._zones = {}

    def _zone(self, name: str):
        if name not in self._zones:
            self._zones[name] = zoneinfo.ZoneInfo(name) if name in known_timezones() else studio_tz()
        return self._zones[name]

    def __call__(self, c: selectors.Card) -> dict:
        status = "confirmed" if c.status == Session.Status.SCHEDULED and c.confirmed_at else c.status
        start = c.starts_at.astimezone(self.tz)
        end = c.ends_at.astimezone(self.tz)
        client_start = c.starts_at.astimezone(self._zone(c.client_timezone))
        client_time = ""
        if client_start.utcoffset() != start.utcoffset():
            client_time = f"{client_start.hour:02d}:{client_start.minute:02d} {client_start.tzname()}"
        colour = self.colours.get(c.trainer_id, "")
        return {
            "id": str(c.pk),
            "title": f"{c.client_first_name} {c.client_last_name}".strip(),
            "start": start.isoformat()[:19],
            "end": end.isoformat()[:19],
            "classNames": [f"st-{status}"],
            "editable": c.status == Session.Status.SCHEDULED and c.starts_at >= self.now,
            **({"borderColor": colour} if colour else {}),
            "extendedProps": {
                "status": status,
                "statusLabel": STATUS_LABELS[status],
                "location": c.location,
                "clientId": c.client_id,
                "trainerId": c.trainer_id,
                "trainer": f"{c.trainer_first_name} {c.trainer_last_name}".strip() or c.trainer_username,
                "startUtc": c.starts_at.astimezone(UTC).isoformat()[:19] + "Z",
                # "Tue 01 Dec 2026, 10:00–10:45 GMT", without strftime (slow, and locale-bound).
                "when": f"{DAYS[start.weekday()]} {start.day:02d} {MONTHS[start.month - 1]} {start.year}, "
                f"{start.hour:02d}:{start.minute:02d}–{end.hour:02d}:{end.minute:02d} {start.tzname()}",
                "clientTime": client_time,
                "series": bool(c.series),
                "actions": ACTIONS_BY_STATUS[c.status],
                "adminUrl": self.admin_url.format(c.pk),
                "inboxUrl": self.inbox_url.format(c.client_id),
            },
        }


def event_json(session: Session) -> dict:
    return EventWriter()(selectors.card(session))


@require_GET
@never_cache
@staff_json("scheduling.view_session")
def events(request):
    """FullCalendar's event JSON for ``start`` ≤ t < ``end``; 400 with the reason on bad input.

    Queries, whatever the tables hold: the login session, the user, the user's
    groups (manager or trainer), and one for the sessions.
    """
    try:
        start, end = _window(request)
        trainer_ids = _trainer_ids(request, request.GET.getlist("trainer"))
    except BadRequest as exc:
        return _errors(exc)
    colours = {pk: TRAINER_COLOURS[i] for i, pk in enumerate(trainer_ids)} if len(trainer_ids) > 1 else {}
    write = EventWriter(colours=colours)
    sessions = selectors.calendar_sessions(
        user=request.user,
        start=start,
        end=end,
        trainer_ids=trainer_ids,
        include_cancelled=request.GET.get("cancelled") == "1",
    )
    return JsonResponse([write(s) for s in sessions], safe=False)


@require_GET
@never_cache
@staff_json("scheduling.view_session")
def availability(request):
    """The shown trainer's time off as FullCalendar background events for ``start`` ≤ t < ``end``:
    everything outside her working hours (weekly hours, a date's override instead, the
    whole day on a day off), on the viewer's wall clock like ``events``.

    Only when one trainer is shown (several trainers' hours would shade each other) and
    she has availability set up; otherwise an empty list. Queries: the login session,
    the user, the user's groups, her availability, her hours and overrides (one UNION).
    """
    try:
        start, end = _window(request)
        trainer_ids = _trainer_ids(request, request.GET.getlist("trainer"))
    except BadRequest as exc:
        return _errors(exc)
    if len(trainer_ids) != 1:
        return JsonResponse([], safe=False)
    working = selectors.working_ranges(trainer_id=trainer_ids[0], start=start, end=end)
    if working is None:
        return JsonResponse([], safe=False)
    return JsonResponse(
        [
            {
                "start": _local_iso(a),
                "end": _local_iso(b),
                "display": "background",
                "groupId": "availability",
                "classNames": ["off-hours"],
            }
            for a, b in selectors.gaps(working, start=start, end=end)
        ],
        safe=False,
    )


def _visible_session(request, session_id) -> Session:
    session = visible_sessions(request.user).select_related("client", "trainer").filter(pk=session_id).first()
    if session is None:
        raise Http404("No such session.")
    return session


def _duration(value) -> int:
    minutes = parse_pk(value)
    if minutes is None or minutes > MAX_DURATION_MINUTES:
        raise BadRequest(f"A session lasts between 1 and {MAX_DURATION_MINUTES} minutes.")
    return minutes


@require_POST
@staff_json("scheduling.change_session")
def move(request, session_id):
    """Drag and drop (``start`` and ``end``, wall-clock): the session's new time, or 400 with why."""
    session = _visible_session(request, session_id)
    try:
        starts_at = _wall_clock(request.POST.get("start", ""), strict=True)
        ends_at = _wall_clock(request.POST.get("end", ""), strict=True) if request.POST.get("end") else None
        minutes = session.duration_minutes
        if ends_at is not None:
            minutes = _duration(int((ends_at - starts_at).total_seconds() // 60))
        session = calendar_services.calendar_move(
            session=session, starts_at=starts_at, duration_minutes=minutes
        )
    except (BadRequest, ValidationError) as exc:
        return _errors(exc)
    return JsonResponse(
        {"event": (event := event_json(session)), "message": f"Moved to {event['extendedProps']['when']}."}
    )


@require_POST
@staff_json("scheduling.add_session")
def book(request):
    """Book from a selected slot: client, start, duration, location (and trainer, for a manager)."""
    try:
        client_id = parse_pk(request.POST.get("client"))
        client = visible_clients(request.user).filter(pk=client_id).first() if client_id else None
        if client is None:
            raise BadRequest("Choose a client.")
        trainer = request.user
        if is_manager(request.user) and request.POST.get("trainer"):
            trainer = staff_users().filter(pk=parse_pk(request.POST["trainer"])).first()
            if trainer is None:
                raise BadRequest("Choose a trainer.")
        starts_at = _wall_clock(request.POST.get("start", ""), strict=True)
        minutes = _duration(request.POST.get("duration"))
        location = request.POST.get("location", "").strip()[:200]
        session = calendar_services.calendar_book(
            trainer=trainer, client=client, starts_at=starts_at, duration_minutes=minutes, location=location
        )
    except (BadRequest, ValidationError) as exc:
        return _errors(exc)
    event = event_json(session)
    return JsonResponse(
        {"event": event, "message": f"Booked {client.full_name}, {event['extendedProps']['when']}."},
        status=201,
    )


@require_POST
@staff_json("scheduling.change_session")
def session_action(request, session_id, action):
    if action not in ACTIONS:
        raise Http404("No such action.")
    service, done = ACTIONS[action]
    session = _visible_session(request, session_id)
    try:
        session = service(session=session)
    except ValidationError as exc:
        return _errors(exc)
    return JsonResponse({"event": event_json(session), "message": f"{session.client.full_name}: {done}."})


@require_GET
@staff_json("scheduling.view_session")
def client_search(request):
    """The booking form's client picker: the viewer's own clients (everyone's, for a manager)."""
    q = request.GET.get("q", "").strip()[:100]
    clients = visible_clients(request.user)
    for word in q.split()[:4]:
        clients = clients.filter(
            Q(first_name__icontains=word) | Q(last_name__icontains=word) | Q(email__icontains=word)
        )
    clients = clients.order_by("first_name", "last_name", "pk").only("first_name", "last_name", "email")
    return JsonResponse(
        {"results": [{"id": c.pk, "text": c.full_name, "email": c.email} for c in clients[:CLIENT_RESULTS]]}
    )


# --- The page ----------------------------------------------------------------------------------------


@require_GET
@staff_page
def calendar_page(request):
    manager = is_manager(request.user)
    trainers = list(staff_users()) if manager else [request.user]
    try:
        selected = _trainer_ids(request, request.GET.getlist("trainer"))
    except BadRequest:
        selected = _default_trainer_ids(request.user)
    feed = calendar_services.feed_for(request.user)
    feed_url = request.build_absolute_uri(reverse("calendar:feed", args=[calendar_services.feed_token(feed)]))
    try:
        initial = parse_date(request.GET.get("date", ""))
    except ValueError:  # well formed but impossible, 2026-13-45: start from today
        initial = None
    now_local = timezone.localtime()
    tz = timezone.get_current_timezone()
    config = {
        "eventsUrl": reverse("calendar:events"),
        "availabilityUrl": reverse("calendar:availability"),
        "bookUrl": reverse("calendar:book"),
        "clientsUrl": reverse("calendar:clients"),
        "sessionUrl": reverse("calendar:move", args=[0]).replace("/0/move/", "/"),
        "trainers": [{"id": t.pk, "name": _name(t)} for t in trainers],
        "selected": selected,
        "colours": TRAINER_COLOURS,
        "manager": manager,
        "me": request.user.pk,
        "initialDate": (initial or now_local.date()).isoformat(),
        # The viewer's zone's offset now, in minutes: FullCalendar's "now" in wall-clock time.
        "offsetMinutes": int(now_local.utcoffset().total_seconds() // 60),
        "zone": str(tz),
        "canBook": request.user.has_perm("scheduling.add_session"),
    }
    context = {
        **admin.site.each_context(request),
        "title": "Calendar",
        "config": config,
        "trainers": trainers,
        "selected": selected,
        "feed_url": feed_url,
        "zone_name": str(tz),
        "zone_abbr": now_local.strftime("%Z"),
        "studio_zone": str(studio_tz()),
        "statuses": STATUS_LABELS,
        "show_cancelled": request.GET.get("cancelled") == "1",
    }
    return TemplateResponse(request, "calendar/calendar.html", context)


@require_POST
@staff_page
def feed_rotate(request):
    calendar_services.feed_rotate(trainer=request.user)
    messages.success(
        request,
        "Your calendar link was replaced: calendars subscribed with the old link stop updating. "
        "Subscribe again with the new one.",
    )
    return redirect("calendar:page")


# --- The subscription feed (no login: the signed token is the key) --------------------------------


@require_GET
@never_cache
def feed(request, token):
    found = calendar_services.feed_from_token(token)
    if found is None:
        return HttpResponse(
            "This calendar link is not valid (it may have been replaced).",
            status=404,
            content_type="text/plain; charset=utf-8",
        )
    trainer = found.trainer
    now = timezone.now()
    body = ics.trainer_feed(trainer=trainer, rows=selectors.feed_rows(trainer=trainer, now=now), now=now)
    response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = 'inline; filename="sessions.ics"'
    response["X-Robots-Tag"] = "noindex, nofollow"
    return response
