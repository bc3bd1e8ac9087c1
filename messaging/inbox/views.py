"""The trainer inbox: conversations, one thread per client, compose.

Pages are plain forms that work without JavaScript; with htmx the SMS counter
updates as you type and sending refreshes only the thread.
"""

from django.contrib import admin, messages
from django.contrib.admin.views.decorators import staff_member_required
from django.contrib.auth.decorators import permission_required
from django.core.paginator import Paginator
from django.db.models import Q
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from clients.admin_scoping import staff_users
from clients.models import Channel
from clients.roles import is_manager
from common.ids import parse_pk
from common.timefmt import staff_datetime
from messaging import saved_replies
from messaging.delivery import quiet_hours_resume_at
from messaging.inbox import selectors, services
from messaging.inbox.forms import ComposeForm
from messaging.links import portal_link
from messaging.sms_text import sms_count

PAGE_SIZE = 25
START_RESULTS = 20
THREAD_LATEST = 100


def inbox_view(view):
    """Staff only (the admin login), and only staff allowed to see messages."""
    return staff_member_required(
        permission_required("messaging.view_message", raise_exception=True)(view),
        login_url="admin:login",
    )


def _context(request, **extra):
    return {**admin.site.each_context(request), **extra}


@require_GET
@inbox_view
def conversation_list(request):
    manager = is_manager(request.user)
    filters = {
        "unread": request.GET.get("unread") == "1",
        "needs_reply": request.GET.get("needs_reply") == "1",
        "trainer_id": parse_pk(request.GET.get("trainer")) if manager else None,
    }
    rows = selectors.conversations(user=request.user, **filters)
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    page.object_list = selectors.attach_last_messages(page.object_list)
    query = request.GET.copy()
    query.pop("page", None)
    return TemplateResponse(
        request,
        "inbox/conversation_list.html",
        _context(
            request,
            title="Inbox",
            page=page,
            filters=filters,
            query=query.urlencode(),
            trainers=staff_users() if manager else [],
            is_manager=manager,
        ),
    )


@require_GET
@inbox_view
def start(request):
    """Find a client to write to (a conversation starts with its first message)."""
    query = request.GET.get("q", "").strip()
    clients = selectors.visible_clients(request.user).order_by("first_name", "last_name")
    if query:
        clients = clients.filter(
            Q(first_name__icontains=query)
            | Q(last_name__icontains=query)
            | Q(email__icontains=query)
            | Q(phone__icontains=query)
        )
    return TemplateResponse(
        request,
        "inbox/start.html",
        _context(request, title="New message", query=query, clients=clients[:START_RESULTS] if query else []),
    )


def _sms_text(body: str, client, add_portal_link) -> str:
    """What will actually be sent: the body, and the portal link when it is ticked."""
    if add_portal_link:
        return f"{body.rstrip()}\n\n{portal_link(client)}"
    return body


def _thread_context(request, client, form):
    body = _sms_text(form["body"].value() or "", client, form["add_portal_link"].value())
    now = timezone.now()
    quiet_until = quiet_hours_resume_at(now, client.tzinfo)
    show_all = request.GET.get("all") == "1"
    thread, has_older = selectors.thread(client=client, latest=None if show_all else THREAD_LATEST)
    return _context(
        request,
        title=f"Conversation with {client.full_name}",
        client=client,
        thread=thread,
        has_older=has_older,
        unread=selectors.unread_in_thread(client),
        form=form,
        sms=sms_count(body),
        can_send=request.user.has_perm("messaging.add_message"),
        saved_replies=saved_replies.rendered_for(client=client, user=request.user),
        client_now=now.astimezone(client.tzinfo),
        quiet_until=quiet_until.astimezone(client.tzinfo) if quiet_until else None,
        question=getattr(form, "quiet_hours_resume", None),
    )


def _visible_client(request, client_id):
    # Outside the user's book is "not found", exactly like the admin.
    return get_object_or_404(selectors.visible_clients(request.user).select_related("trainer"), pk=client_id)


@require_GET
@inbox_view
def thread(request, client_id):
    client = _visible_client(request, client_id)
    form = ComposeForm(client=client)
    return TemplateResponse(request, "inbox/thread.html", _thread_context(request, client, form))


@require_POST
@inbox_view
def send(request, client_id):
    client = _visible_client(request, client_id)
    if not request.user.has_perm("messaging.add_message"):
        messages.error(request, "You may read messages but not send them.")
        return redirect("inbox:thread", client_id=client.pk)
    form = ComposeForm(request.POST, client=client)
    template = "inbox/_conversation.html" if request.htmx else "inbox/thread.html"
    if not form.is_valid():
        # htmx swaps only 2xx answers; the form with its errors must still show. The
        # quiet-hours question is not an error either way.
        asking = hasattr(form, "quiet_hours_resume")
        status = 200 if request.htmx or asking else 400
        return TemplateResponse(request, template, _thread_context(request, client, form), status=status)
    data = form.cleaned_data
    send_at = data["send_at"]
    if data["quiet_hours"] == "wait":
        send_at = form.quiet_hours_end() or send_at
    message = services.inbox_send(
        client=client,
        channel=data["channel"],
        body=_sms_text(data["body"], client, data["add_portal_link"]),
        subject=data["subject"] if data["channel"] == Channel.EMAIL else "",
        sent_by=request.user,
        send_at=send_at,
        urgent=data["quiet_hours"] == "urgent",
    )
    what = f"{message.get_channel_display()} message to {client.first_name}"
    if send_at:
        messages.success(request, f"{what} scheduled for {staff_datetime(send_at, client.tzinfo)}.")
    elif message.quiet_hours_overridden_at:
        messages.success(request, f"{what} queued as urgent: it goes now, inside their quiet hours.")
    else:
        messages.success(request, f"{what} queued.")
    if request.htmx:
        # Sent without a reload: the refreshed thread and an empty form.
        return TemplateResponse(
            request, template, _thread_context(request, client, ComposeForm(client=client))
        )
    return redirect("inbox:thread", client_id=client.pk)


@require_POST
@inbox_view
def mark_read(request, client_id):
    client = _visible_client(request, client_id)
    count = services.staff_read_thread(client=client)
    if count:
        messages.success(request, f"Marked {count} message(s) from {client.first_name} read.")
    if request.POST.get("next") == "list":
        return redirect("inbox:list")
    return redirect("inbox:thread", client_id=client.pk)


@inbox_view
def sms_preview(request, client_id=None):
    """The segment counter as a fragment, for htmx to swap in while typing.

    With a client, the portal link is counted when it is ticked: the count is of
    what will actually be sent.
    """
    data = request.POST if request.method == "POST" else request.GET
    body = data.get("body", "")
    if client_id is not None:
        body = _sms_text(body, _visible_client(request, client_id), data.get("add_portal_link"))
    return TemplateResponse(request, "inbox/_sms_count.html", {"sms": sms_count(body)})
