from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from clients.admin_scoping import TrainerScopedAdmin
from clients.models import Channel
from clients.roles import is_manager
from common.admin import ReadOnlyTabularInline
from common.timefmt import staff_datetime
from messaging import receipts, saved_replies, templating
from messaging.holds import hold_reason
from messaging.models import Message, MessageEvent, ReceiptTemplate, SavedReply
from messaging.services import message_cancel, message_retry, send_message
from messaging.sms_text import normalize_sms_text, sms_info


class MessageEventInline(ReadOnlyTabularInline):
    model = MessageEvent
    fields = ("created_at", "status", "source", "detail")
    verbose_name_plural = "History"


class ComposeForm(forms.ModelForm):
    class Meta:
        model = Message
        fields = ("client", "channel", "category", "subject", "body")


@admin.register(Message)
class MessageAdmin(TrainerScopedAdmin):
    trainer_lookup = "client__trainer"
    list_display = (
        "created",
        "client",
        "channel",
        "category",
        "direction",
        "status",
        "held",
        "summary",
        "attempts",
        "sent_at",
    )
    list_filter = ("status", "channel", "category", "direction", "created_at", "client__trainer")
    list_select_related = ("client",)
    search_fields = (
        "client__first_name",
        "client__last_name",
        "to_address",
        "from_address",
        "subject",
        "provider_id",
    )
    date_hierarchy = "created_at"
    autocomplete_fields = ("client",)
    inlines = (MessageEventInline,)
    actions = ("retry_now", "cancel")

    def get_inlines(self, request, obj):
        # A message being composed has no history yet.
        return self.inlines if obj is not None else ()

    readonly_fields = (
        "status",
        "held",
        "direction",
        "error",
        "sms_cost",
        "to_address",
        "from_address",
        "provider_id",
        "attempts",
        "next_attempt_at",
        "claimed_at",
        "not_after",
        "quiet_hours_overridden_at",
        "quiet_hours_overridden_by",
        "created_at",
        "sent_at",
        "delivered_at",
        "read_at",
        "failed_at",
        "clients_clock",
        "rule",
        "session",
        "payment",
        "campaign",
        "sent_by",
    )
    fieldsets = (
        (None, {"fields": ("client", "channel", "category", "subject", "body", "sms_cost")}),
        (
            "Delivery",
            {
                "fields": (
                    "status",
                    "held",
                    "error",
                    "direction",
                    "to_address",
                    "from_address",
                    "provider_id",
                )
            },
        ),
        (
            "Timeline",
            {
                "fields": (
                    ("created_at", "sent_at", "delivered_at", "read_at", "failed_at"),
                    "clients_clock",
                    ("attempts", "next_attempt_at", "claimed_at", "not_after"),
                    ("quiet_hours_overridden_at", "quiet_hours_overridden_by"),
                )
            },
        ),
        ("Caused by", {"fields": ("rule", "session", "payment", "campaign", "sent_by")}),
    )
    add_fieldsets = ((None, {"fields": ("client", "channel", "category", "subject", "body")}),)

    def get_fieldsets(self, request, obj=None):
        return self.add_fieldsets if obj is None else self.fieldsets

    def get_form(self, request, obj=None, **kwargs):
        if obj is None:
            kwargs["form"] = ComposeForm
        return super().get_form(request, obj, **kwargs)

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ()
        # The outbox is a record: what was sent is never edited afterwards.
        return (*self.readonly_fields, "client", "channel", "category", "subject", "body")

    def has_change_permission(self, request, obj=None):
        # Viewing is enough to see a message; nothing on it is editable.
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_send_permission(self, request):
        return self.has_add_permission(request)

    @admin.display(description="Created", ordering="created_at")
    def created(self, obj):
        return staff_datetime(obj.created_at, obj.client.tzinfo if obj.client_id else None)

    @admin.display(description="Sent, on both clocks")
    def clients_clock(self, obj):
        moment = obj.sent_at or obj.created_at
        if moment is None:
            return "-"
        return staff_datetime(moment, obj.client.tzinfo if obj.client_id else None)

    @admin.display(description="Held")
    def held(self, obj):
        # Why a queued message is waiting and until when; one wording everywhere.
        return (hold_reason(obj) if obj is not None else None) or "-"

    @admin.display(description="Message")
    def summary(self, obj):
        text = obj.subject or obj.body
        return text if len(text) <= 60 else f"{text[:57]}..."

    @admin.display(description="SMS cost")
    def sms_cost(self, obj):
        if obj is None or obj.channel != Channel.SMS:
            return "-"
        info = sms_info(normalize_sms_text(obj.body))
        if info.is_gsm7:
            return f"{info.segments} segment(s), GSM-7"
        return format_html(
            '<strong style="color:#b45309">{} segment(s), UCS-2</strong>: '
            "characters outside GSM-7 cut each segment to 70 characters",
            info.segments,
        )

    def save_model(self, request, obj, form, change):
        # Staff compose here; the row is created (and delivered) the same way as any other.
        message = send_message(
            client=obj.client,
            channel=obj.channel,
            category=obj.category,
            subject=obj.subject,
            body=obj.body,
            sent_by=request.user,
        )
        obj.pk, obj.status, obj.to_address = message.pk, message.status, message.to_address
        if obj.channel == Channel.SMS:
            info = sms_info(message.body)
            if not info.is_gsm7:
                self.message_user(
                    request,
                    f"This SMS is not GSM-7 and costs {info.segments} segment(s): "
                    "emoji and some accented characters cut each segment to 70 characters.",
                    messages.WARNING,
                )

    @admin.action(description="Retry now (failed messages)", permissions=["send"])
    def retry_now(self, request, queryset):
        retried = sum(
            message_retry(message=m, user=request.user) for m in queryset.filter(status=Message.Status.FAILED)
        )
        skipped = queryset.count() - retried
        self.message_user(
            request,
            f"{retried} message(s) queued again." + (f" {skipped} skipped (not failed)." if skipped else ""),
        )

    @admin.action(description="Cancel (queued messages)", permissions=["send"])
    def cancel(self, request, queryset):
        cancelled = sum(
            message_cancel(message=m, user=request.user)
            for m in queryset.filter(status=Message.Status.QUEUED)
        )
        skipped = queryset.count() - cancelled
        self.message_user(
            request,
            f"{cancelled} message(s) cancelled."
            + (f" {skipped} skipped (already on their way)." if skipped else ""),
        )


@admin.register(SavedReply)
class SavedReplyAdmin(admin.ModelAdmin):
    list_display = ("title", "whose", "updated_at")
    search_fields = ("title", "body")
    readonly_fields = ("variables",)

    def get_queryset(self, request):
        return saved_replies.visible_replies(request.user)

    def get_fields(self, request, obj=None):
        if is_manager(request.user):
            return ("title", "body", "variables", "owner")
        return ("title", "body", "variables")

    @admin.display(description="whose")
    def whose(self, obj):
        return obj.owner.get_full_name() or obj.owner.get_username() if obj.owner_id else "whole studio"

    @admin.display(description="Variables you can use")
    def variables(self, obj):
        return format_html(
            '{}<p class="help">Rendered for the client of the conversation when you insert it. Personal '
            "links are not offered here: tick “Add the portal link” in the compose box.</p>",
            ", ".join(f"{{{{ {name} }}}}" for name in saved_replies.VARIABLES),
        )

    def has_change_permission(self, request, obj=None):
        if obj is not None and not saved_replies.may_edit(request.user, obj):
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        if obj is not None and not saved_replies.may_edit(request.user, obj):
            return False
        return super().has_delete_permission(request, obj)

    def save_model(self, request, obj, form, change):
        saved_replies.saved_reply_save(reply=obj, user=request.user)


@admin.register(ReceiptTemplate)
class ReceiptTemplateAdmin(admin.ModelAdmin):
    """The studio's one receipt email: the list opens it (created with the default wording)."""

    fields = ("send_automatically", "subject_template", "body_template", "variables", "preview")
    readonly_fields = ("variables", "preview")

    def changelist_view(self, request, extra_context=None):
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        return redirect(
            reverse("admin:messaging_receipttemplate_change", args=[receipts.receipt_template().pk])
        )

    def get_object(self, request, object_id, from_field=None):
        # Before the first save the page edits the default wording; saving inserts the one row.
        return receipts.receipt_template() if str(object_id) == "1" else None

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        form.base_fields["body_template"].widget.attrs.update(rows=18, cols=80)
        form.base_fields["subject_template"].widget.attrs.update(style="width: 100%; max-width: 40em")
        return form

    @admin.display(description="Variables you can use")
    def variables(self, obj):
        return format_html(
            "<ul>{}</ul>",
            format_html_join("", "<li><code>{{{{ {} }}}}</code>: {}</li>", receipts.VARIABLES.items()),
        )

    @admin.display(description="Preview (sample values)")
    def preview(self, obj):
        try:
            context = templating.sample_values(receipts.VARIABLES)
            subject = templating.render(obj.subject_template, context)
            body = templating.render(obj.body_template, context)
        except ValidationError as exc:
            return " ".join(exc.messages)
        return format_html(
            '<div id="receipt-template-preview"><strong>{}</strong>'
            '<pre style="white-space: pre-wrap; font-family: inherit;">{}</pre></div>',
            subject,
            body,
        )
