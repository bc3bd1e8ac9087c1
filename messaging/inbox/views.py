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
from django.views.decorators.http import require_GET, require_POST

from clients.admin_scoping import staff_users
from clients.models import Channel
from clients.roles import is_manager
from common.ids import parse_pk
from messaging import saved_replies
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


def _thread_context(request, client, form):
    body = form["body"].value() or ""
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
        # htmx swaps only 2xx answers; the form with its errors must still show.
        status = 200 if request.htmx else 400
        return TemplateResponse(request, template, _thread_context(request, client, form), status=status)
    data = form.cleaned_data
    body = data["body"]
    if data["add_portal_link"]:
        body = f"{body.rstrip()}\n\n{portal_link(client)}"
    message = services.inbox_send(
        client=client,
        channel=data["channel"],
        body=body,
        subject=data["subject"] if data["channel"] == Channel.EMAIL else "",
        sent_by=request.user,
    )
    messages.success(request, f"{message.get_channel_display()} message to {client.first_name} queued.")
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
def sms_preview(request):
    """The segment counter as a fragment, for htmx to swap in while typing."""
    body = request.POST.get("body", "") if request.method == "POST" else request.GET.get("body", "")
    return TemplateResponse(request, "inbox/_sms_count.html", {"sms": sms_count(body)})
