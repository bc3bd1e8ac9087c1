"""The home page of the back office (``/admin/``) and its two buttons.

Every button is a POST with Django's CSRF token, scoped like the page: a session
or an automation occurrence outside the user's book is "not found".
"""

from django.contrib import admin, messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.views.decorators.http import require_GET, require_POST

from automation import forecast
from clients.roles import is_manager
from common.ids import parse_pk
from dashboard import charts, selectors
from dashboard.selectors import Scope
from scheduling import services as scheduling_services
from scheduling.models import Session

SESSION_ACTIONS = {
    "complete": (scheduling_services.session_mark_completed, "marked completed"),
    "no_show": (scheduling_services.session_mark_no_show, "marked no-show"),
    "cancel": (scheduling_services.session_cancel, "cancelled"),
}


def _scope(request) -> Scope:
    picked = parse_pk(request.GET.get("trainer")) if is_manager(request.user) else None
    return Scope.for_request(request.user, picked)


@require_GET
def index(request):
    now = timezone.now()
    scope = _scope(request)
    manager = is_manager(request.user)
    context = admin.site.each_context(request)
    today, sessions = selectors.sessions_today_and_tomorrow(scope, now=now)
    figures = selectors.figures(scope, now=now)
    health = selectors.delivery_health(scope, now=now)
    selectors.worker_check(health, figures, now=now)
    _link_message_list(health, scope)
    upcoming = selectors.coming_up(scope, now=now)
    context.update(
        title="Today",
        app_list=context["available_apps"],
        now=now,
        scope=scope,
        manager=manager,
        trainers=list(selectors.trainers()) if manager else [],
        today=today,
        sessions=sessions[: selectors.SESSION_ROWS],
        more_sessions=len(sessions) > selectors.SESSION_ROWS,
        figures=figures,
        oldest_overdue=selectors.oldest_overdue(scope, now=now),
        conversations=selectors.latest_conversations(scope, now=now),
        needs_reply_days=selectors.NEEDS_REPLY_DAYS,
        health=health,
        upcoming=upcoming.previews,
        upcoming_later=upcoming.later,
        charts=charts.build(figures=figures),
    )
    if scope.trainer_id is None or not manager:
        # The header's unread badge counts the same conversations: no second query.
        context["inbox_unread_total"] = figures.unread
    return TemplateResponse(request, "dashboard/index.html", context)


def _link_message_list(health, scope: Scope):
    """Each figure and reason opens the admin's message list filtered to exactly those messages."""
    base = reverse("admin:messaging_message_changelist")
    mine = {"client__trainer__id__exact": scope.trainer_id} if scope.trainer_id else {}
    recent = {"direction__exact": "out", "created_at__gte": health.since.isoformat(), **mine}
    held = {"status__exact": "queued", "next_attempt_at__gt": health.now.isoformat(), **mine}
    params = {
        "failed": {"status__exact": "failed", **recent},
        "suppressed": {"status__exact": "suppressed", **recent},
        "retry": held,
        "deferred": held,
    }
    health.failed_url = f"{base}?{urlencode(params['failed'])}"
    health.suppressed_url = f"{base}?{urlencode(params['suppressed'])}"
    health.held_url = f"{base}?{urlencode(held)}"
    for reason in health.reasons:
        reason.url = f"{base}?{urlencode({**params[reason.kind], 'error': reason.reason})}"


def _back(request):
    target = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return redirect(target)
    return redirect("admin:index")


@require_POST
@permission_required("scheduling.change_session", raise_exception=True)
def session_action(request, pk, action):
    if action not in SESSION_ACTIONS:
        raise Http404
    scope = Scope.for_request(request.user, None)
    session = get_object_or_404(scope.narrow(Session.objects.select_related("client")), pk=pk)
    service, done = SESSION_ACTIONS[action]
    try:
        service(session=session)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"Session with {session.client} {done}.")
    return _back(request)


@require_POST
@permission_required("automation.view_automationlog", raise_exception=True)
def skip_upcoming(request):
    """Skip one coming automation message: it must be on this user's forecast now."""
    rule_id, key = parse_pk(request.POST.get("rule")), request.POST.get("key", "")
    scope = Scope.for_request(request.user, None)
    preview = forecast.find_upcoming(
        now=timezone.now(), rule_id=rule_id, key=key, trainer_id=scope.trainer_id
    )
    if preview is None:
        raise Http404("Not coming up (any more).")
    occ = preview.occurrence
    if forecast.occurrence_skip(preview=preview, user=request.user):
        messages.success(request, f"“{occ.rule}” will not be sent to {preview.client}.")
    else:
        messages.warning(request, f"“{occ.rule}” for {preview.client} has been handled already.")
    return _back(request)
