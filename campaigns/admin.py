from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import redirect
from django.urls import path, reverse
from django.views.decorators.http import require_POST

from campaigns import selectors, services
from campaigns.models import Campaign, Segment
from clients.admin_scoping import TrainerScopedAdmin
from clients.roles import is_manager
from clients.selectors import visible_clients
from common.ids import parse_pk
from common.timefmt import staff_datetime
from messaging.templating import CLIENT_VARIABLES


@admin.register(Segment)
class SegmentAdmin(TrainerScopedAdmin):
    trainer_lookup = "owner"
    list_display = ("name", "owner", "updated_at")
    list_select_related = ("owner",)
    search_fields = ("name",)
    autocomplete_fields = ("tags",)
    readonly_fields = ("owner", "created_at", "updated_at")
    fieldsets = (
        (None, {"fields": ("name", "owner")}),
        (
            "Who",
            {
                "fields": ("status", "trainer", ("tags", "tags_match"), "has_email", "email_marketing"),
                "description": "Every condition you fill in must hold (AND); empty means any. "
                "The segment is evaluated when a campaign is sent, not when it is saved. "
                "“Save and continue editing” shows who matches right now.",
            },
        ),
        (
            "Activity",
            {
                "fields": (
                    "no_completed_session_days",
                    "session_in_next_days",
                    "has_overdue_payment",
                    "owes_more_than",
                    "birthday_month",
                    ("joined_after", "joined_before"),
                )
            },
        ),
    )

    def save_model(self, request, obj, form, change):
        if not change and obj.owner_id is None:
            obj.owner = request.user
        super().save_model(request, obj, form, change)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = extra_context or {}
        segment = self.get_object(request, object_id)
        if segment is not None:
            extra_context["segment_preview"] = selectors.segment_preview(segment, as_user=request.user)
        return super().change_view(request, object_id, form_url, extra_context)


@admin.register(Campaign)
class CampaignAdmin(TrainerScopedAdmin):
    trainer_lookup = "created_by"
    list_display = (
        "name",
        "segment",
        "status",
        "scheduled_at",
        "recipients_count",
        "created_by",
        "created_at",
    )
    list_filter = ("status", "kind")
    list_select_related = ("segment", "created_by")
    search_fields = ("name", "subject")
    date_hierarchy = "created_at"
    CONTENT = ("name", "kind", "segment", "subject", "body", "scheduled_at")
    BOOKKEEPING = ("status", "error", "created_by", "planned_at", "finished_at", "cancelled_at")
    fieldsets = (
        (None, {"fields": ("name", "kind", "segment", "scheduled_at")}),
        (
            "Message",
            {
                "fields": ("subject", "body"),
                "description": "Same template language as automation rules, e.g. "
                "“Hi {{ first_name }}”. Variables: "
                + ", ".join(CLIENT_VARIABLES)
                + ". The unsubscribe link is added to every campaign email, “Reply STOP to opt out” "
                "to every marketing SMS.",
            },
        ),
        ("Progress", {"fields": BOOKKEEPING}),
    )

    def formfield_for_choice_field(self, db_field, request, **kwargs):
        if db_field.name == "kind" and not is_manager(request.user):
            # An announcement skips marketing consent: a manager's to send.
            kwargs["choices"] = [c for c in db_field.choices if c[0] != Campaign.Kind.ANNOUNCEMENT]
        return super().formfield_for_choice_field(db_field, request, **kwargs)

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and not obj.is_editable:
            return (*self.CONTENT, *self.BOOKKEEPING)
        return self.BOOKKEEPING

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "segment" and not is_manager(request.user):
            kwargs["queryset"] = Segment.objects.filter(owner=request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request, obj, form, change):
        services.campaign_save(campaign=obj, user=request.user)

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except ValidationError as exc:
            # The service refused the save (the campaign was sent or claimed by the
            # planner since the page was opened): the page again, with the reason.
            self.message_user(request, " ".join(exc.messages), messages.ERROR)
            return redirect(request.path)

    def has_delete_permission(self, request, obj=None):
        # A campaign that went out is the record of what clients received.
        if obj is not None and obj.status != Campaign.Status.DRAFT:
            return False
        return super().has_delete_permission(request, obj)

    # --- Campaign page: audience, preview, statistics, buttons ---------------------
    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = extra_context or {}
        campaign = self.get_object(request, object_id)
        if campaign is not None:
            extra_context.update(self._campaign_context(request, campaign))
        return super().change_view(request, object_id, form_url, extra_context)

    def _campaign_context(self, request, campaign):
        context = {
            "campaign": campaign,
            "can_act": self.has_change_permission(request, campaign),
            "consent_rule": selectors.CONSENT_RULES[campaign.kind],
        }
        if campaign.is_editable:
            audience = selectors.campaign_audience(campaign)
            if not is_manager(request.user):
                audience = audience.filter(trainer=request.user)
            context["audience_count"] = audience.count()
            context["reach"] = reach = selectors.campaign_reach(campaign, audience)
            preview_client = None
            preview_id = parse_pk(request.GET.get("preview_client"))
            if preview_id:
                preview_client = audience.filter(pk=preview_id).first()
            preview_client = preview_client or audience.order_by("last_name", "first_name").first()
            context["preview_choices"] = list(audience.order_by("last_name", "first_name")[:20])
            context["preview"] = preview = selectors.campaign_preview(campaign, client=preview_client)
            if campaign.kind == Campaign.Kind.SMS and not preview.error:
                context["sms"] = selectors.sms_figures(recipients=reach.recipients, body=preview.body)
        else:
            context["stats"] = selectors.campaign_stats(campaign)
        return context

    def get_urls(self):
        def view(name, func):
            return path(
                f"<int:object_id>/{name}/",
                self.admin_site.admin_view(require_POST(func)),
                name=f"campaigns_campaign_{name.replace('-', '_')}",
            )

        return [
            view("send-now", self.send_now_view),
            view("schedule", self.schedule_view),
            view("cancel", self.cancel_view),
            view("send-test", self.send_test_view),
        ] + super().get_urls()

    def _act(self, request, object_id, action):
        campaign = self.get_object(request, str(object_id))
        if campaign is None:
            raise Http404("No such campaign.")
        if not self.has_change_permission(request, campaign):
            raise PermissionDenied
        try:
            text = action(campaign)
        except ValidationError as exc:
            self.message_user(request, " ".join(exc.messages), messages.ERROR)
        else:
            self.message_user(request, text, messages.SUCCESS)
        return redirect(reverse("admin:campaigns_campaign_change", args=[campaign.pk]))

    def send_now_view(self, request, object_id):
        def action(campaign):
            services.campaign_send_now(campaign=campaign, user=request.user)
            return "Sending has started: the messages are being planned and go out at the studio's marketing rate."

        return self._act(request, object_id, action)

    def schedule_view(self, request, object_id):
        def action(campaign):
            if campaign.scheduled_at is None:
                raise ValidationError("Set the send time and save the campaign first.")
            services.campaign_schedule(campaign=campaign, at=campaign.scheduled_at, user=request.user)
            return f"Scheduled for {staff_datetime(campaign.scheduled_at)}."

        return self._act(request, object_id, action)

    def cancel_view(self, request, object_id):
        def action(campaign):
            cancelled = services.campaign_cancel(campaign=campaign)
            return f"Campaign cancelled; {cancelled} message(s) not yet sent were cancelled."

        return self._act(request, object_id, action)

    def send_test_view(self, request, object_id):
        def action(campaign):
            client = None
            client_id = parse_pk(request.POST.get("preview_client"))
            if client_id:
                client = visible_clients(request.user).filter(pk=client_id).first()
            services.campaign_send_test(campaign=campaign, user=request.user, client=client)
            return f"Test sent to {request.user.email}."

        return self._act(request, object_id, action)
