from django.conf import settings
from django.http import Http404, HttpResponse, HttpResponseNotAllowed, JsonResponse
from django.utils.crypto import constant_time_compare
from django.views.decorators.csrf import csrf_exempt

from automation.schedules import SCAN_TASK
from common.queue import enqueue


@csrf_exempt  # called by cron services, authenticated by the bearer token
def run_triggers(request):
    """Queue one scan for an external cron service; answers at once (202)."""
    token = settings.TRIGGERS_TOKEN
    if not token:
        # Not configured: the door does not exist.
        raise Http404
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not given.strip():
        response = HttpResponse("Authorization: Bearer <TRIGGERS_TOKEN> required.\n", status=401)
        response["WWW-Authenticate"] = 'Bearer realm="run-triggers"'
        return response
    if not constant_time_compare(given.strip(), token):
        return HttpResponse("Wrong token.\n", status=403)
    task_id = enqueue(SCAN_TASK, task_name="automation: run triggers (endpoint)")
    return JsonResponse({"queued": True, "task": task_id}, status=202)
