import logging

from django.conf import settings
from django.http import JsonResponse
from django.utils.crypto import constant_time_compare
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from monitoring.health import run_checks

logger = logging.getLogger(__name__)


@never_cache
@require_GET
def healthz(request):
    """200 when every check passes, 503 naming the failing ones.

    Anonymous callers (uptime monitors) see the status and the failing checks' names;
    ``Authorization: Bearer $HEALTH_TOKEN`` adds each check's reason and the figures.
    """
    header = request.headers.get("Authorization", "")
    authorised = False
    if header:
        scheme, _, given = header.partition(" ")
        token = settings.HEALTH_TOKEN
        # A wrong token (or any token while none is configured) is refused outright, so a
        # misconfigured monitor shows up instead of silently getting the short answer.
        if scheme.lower() != "bearer" or not token or not constant_time_compare(given.strip(), token):
            return JsonResponse({"error": "wrong or unconfigured health token"}, status=403)
        authorised = True

    report = run_checks(with_figures=authorised)
    body = {"status": "ok" if report.ok else "fail", "failing": report.failing}
    if authorised:
        body["checks"] = {check.name: {"ok": check.ok, "detail": check.detail} for check in report.checks}
        body["figures"] = report.figures
    response = JsonResponse(body, status=200 if report.ok else 503)
    if not report.ok:
        logger.warning(
            "health check failing: %s",
            "; ".join(f"{c.name}: {c.detail}" for c in report.checks if not c.ok),
            extra={"failing": report.failing},
        )
        # Django would log every 503 as an error (and Sentry would report each probe of an
        # outage); the warning above says what failed once per probe instead.
        response._has_been_logged = True
    return response
