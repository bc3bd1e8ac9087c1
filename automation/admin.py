from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Max, Q
from django.http import Http404
from django.shortcuts import redirect
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_POST

from automation import forecast, previews, rules
from automation.forms import AutomationRuleForm
from automation.models import DEFAULT_CATEGORY, AutomationLog, AutomationRule, TriggerEvent
from automation.templating import variables_for
from clients.admin_scoping import TrainerScopedAdmin
from clients.roles import is_manager
from messaging import templating
from messaging.models import Message

MessageStatus = Message.Status
LogStatus = AutomationLog.Status


def with_statistics(queryset, *, trainer_id=None):
    """Per-rule counts in the same query as the rules (LEFT JOINs, GROUP BY rule).

    ``trainer_id``: count only the logs of that trainer's clients (a studio-wide
    rule's figures would otherwise tell a trainer about everyone's clients).
    """
    scope = Q() if trainer_id is None else Q(logs__client__trainer_id=trainer_id)
    sent = [MessageStatus.SENT, MessageStatus.DELIVERED, MessageStatus.READ]
    return queryset.annotate(
        stat_fired=Count("logs", filter=scope),
        stat_sent=Count("logs", filter=scope & Q(logs__message__status__in=sent)),
        stat_delivered=Count(
            "logs", filter=scope & Q(logs__message__status__in=[MessageStatus.DELIVERED, MessageStatus.READ])
        ),
        stat_failed=Count(
            "logs",
            filter=scope & (Q(logs__status=LogStatus.FAILED) | Q(logs__message__status=MessageStatus.FAILED)),
        ),
        stat_skipped=Count(
            "logs",
            filter=scope
            & (
                Q(logs__status=LogStatus.SKIPPED)
                | Q(logs__message__status__in=[MessageStatus.SUPPRESSED, MessageStatus.CANCELLED])
            ),
        ),
        stat_last_fired=Max("logs__created_at", filter=scope),
    )


def _stat(name, label):
    def show(self, obj):
        return getattr(obj, name, None)

    show.short_description = label
    show.admin_order_field = name
    return show


@admin.register(AutomationRule)
class AutomationRuleAdmin(admin.ModelAdmin):
    form = AutomationRuleForm
    list_display = (
        "name",
        "trigger_event",
        "offset_hours",
        "channel",
        "scope",
        "is_active",
        "fired",
        "sent",
        "delivered",
        "failed",
        "skipped",
        "last_fired",
    )
    list_filter = ("is_active", "trigger_event", "channel")
    list_select_related = ("trainer",)
    search_fields = ("name", "body_template")
    actions = ("send_test_to_me", "activate", "deactivate")
    # Active only through Activate (after its forecast), never by a checkbox on save.
    readonly_fields = (
        "is_active",
        "variables",
        "preview",
        "forecast",
        "statistics",
        "created_at",
        "updated_at",
    )
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "name",
                    "trigger_event",
                    "offset_hours",
                    "late_booking",
                    "merge_minutes",
                    "only_booked_by",
                    "credits_threshold",
                    "is_active",
                )
            },
        ),
        ("Who and how", {"fields": ("channel", "category", "trainer")}),
        ("Message", {"fields": ("subject_template", "body_template", "variables")}),
        (
            "What it would send",
            {"fields": ("forecast",), "description": "The next 7 days, as the scan will judge them."},
        ),
        ("Preview and statistics", {"fields": ("preview", "statistics", "created_at", "updated_at")}),
    )

    fired = _stat("stat_fired", "fired")
    sent = _stat("stat_sent", "sent")
    delivered = _stat("stat_delivered", "delivered")
    failed = _stat("stat_failed", "failed")
    skipped = _stat("stat_skipped", "skipped")
    last_fired = _stat("stat_last_fired", "last fired")

    def get_queryset(self, request):
        qs = super().get_queryset(request)
        if is_manager(request.user):
            return with_statistics(qs)
        # A trainer sees the studio-wide rules and their own; a rule scoped to another
        # trainer is "not found" in every admin view (list, change, history, actions).
        qs = qs.filter(Q(trainer__isnull=True) | Q(trainer=request.user))
        return with_statistics(qs, trainer_id=request.user.pk)

    def get_object(self, request, object_id, from_field=None):
        obj = super().get_object(request, object_id, from_field)
        if obj is not None:
            # The preview shows a real client: a trainer only ever sees one of their own.
            obj.preview_viewer_trainer_id = previews.viewer_trainer_id(request.user)
        return obj

    def get_fieldsets(self, request, obj=None):
        if is_manager(request.user):
            return self.fieldsets
        # A trainer's rules are hers: the scope is shown, never chosen.
        return [
            (name, {**opts, "fields": tuple("scope" if f == "trainer" else f for f in opts["fields"])})
            for name, opts in self.fieldsets
        ]

    def get_readonly_fields(self, request, obj=None):
        fields = self.readonly_fields
        return fields if is_manager(request.user) else (*fields, "scope")

    def save_model(self, request, obj, form, change):
        rules.rule_save(rule=obj, user=request.user, is_new=not change)

    def response_add(self, request, obj, post_url_continue=None):
        # A new rule is a draft: its page (forecast, Activate) is where to go next.
        self.message_user(
            request,
            "Saved as a draft (inactive). Check what it would send below, then Activate it.",
            messages.INFO,
        )
        return redirect(reverse("admin:automation_automationrule_change", args=[obj.pk]))

    @admin.display(description="scope", ordering="trainer")
    def scope(self, obj):
        if obj is None or obj.pk is None:
            return "your clients"
        return f"{obj.trainer.get_full_name() or obj.trainer}'s clients" if obj.trainer_id else "whole studio"

    def has_change_permission(self, request, obj=None):
        # A trainer reads the studio-wide rules; she changes only her own.
        if obj is not None and not rules.may_edit(request.user, obj):
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        if obj is not None and not rules.may_edit(request.user, obj):
            return False
        # A rule with history stays (its log and messages must remain readable): deactivate it instead.
        if obj is not None and obj.logs.exists():
            return False
        return super().has_delete_permission(request, obj)

    # --- Draft, forecast, Activate ---------------------------------------------------

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = extra_context or {}
        rule = self.get_object(request, object_id)
        if rule is not None and self.has_change_permission(request, rule):

            def url(name):
                return reverse(f"admin:automation_automationrule_{name}", args=[rule.pk])

            extra_context["rule_buttons"] = {
                "activate": None if rule.is_active else url("activate"),
                "deactivate": url("deactivate") if rule.is_active else None,
                "forecast": url("forecast"),
            }
        return super().change_view(request, object_id, form_url, extra_context)

    def get_urls(self):
        def view(name, func):
            return path(
                f"<int:object_id>/{name}/",
                self.admin_site.admin_view(require_POST(func)),
                name=f"automation_automationrule_{name}",
            )

        return [
            view("activate", self.activate_view),
            view("deactivate", self.deactivate_view),
            view("forecast", self.forecast_view),
        ] + super().get_urls()

    def _editable(self, request, object_id):
        rule = self.get_object(request, str(object_id))
        if rule is None:
            raise Http404("No such rule.")
        if not self.has_change_permission(request, rule):
            raise PermissionDenied
        return rule

    def activate_view(self, request, object_id):
        rule = self._editable(request, object_id)
        rules.rule_set_active(rules=AutomationRule.objects.filter(pk=rule.pk), user=request.user, active=True)
        self.message_user(request, f"“{rule}” is active.", messages.SUCCESS)
        return redirect(reverse("admin:automation_automationrule_change", args=[rule.pk]))

    def deactivate_view(self, request, object_id):
        rule = self._editable(request, object_id)
        rules.rule_set_active(
            rules=AutomationRule.objects.filter(pk=rule.pk), user=request.user, active=False
        )
        self.message_user(request, f"“{rule}” is inactive: it sends nothing more.", messages.SUCCESS)
        return redirect(reverse("admin:automation_automationrule_change", args=[rule.pk]))

    def forecast_view(self, request, object_id):
        """The forecast of the form's unsaved values (*Preview changes*): nothing is saved."""
        rule = self._editable(request, object_id)
        form_class = self.get_form(request, rule, change=True)
        form = form_class(request.POST, instance=rule)
        result = None
        if form.is_valid():
            draft = form.save(commit=False)  # fills the instance; never saved here
            if not is_manager(request.user):
                draft.trainer = request.user
            result = forecast.rule_forecast(
                draft, now=timezone.now(), trainer_id=previews.viewer_trainer_id(request.user)
            )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "rule": rule,
            "form": form,
            "title": f"What “{form.cleaned_data.get('name') or rule}” would send, with your changes",
            "forecast_html": _forecast_html(result) if result else "",
            "change_url": reverse("admin:automation_automationrule_change", args=[rule.pk]),
        }
        return TemplateResponse(request, "admin/automation/automationrule/forecast.html", context)

    @admin.display(description="Next 7 days")
    def forecast(self, obj):
        if obj is None or obj.pk is None:
            return "Save the rule (it starts as an inactive draft) to see what it would send."
        result = forecast.rule_forecast(
            obj, now=timezone.now(), trainer_id=getattr(obj, "preview_viewer_trainer_id", None)
        )
        return _forecast_html(result)

    @admin.display(description="Variables you can use")
    def variables(self, obj):
        rows = []
        for event in TriggerEvent:
            names = variables_for(event)
            rows.append(
                format_html(
                    '<tr data-event="{}"{}><th>{}<br><small>{}</small></th><td>{}</td></tr>',
                    event.value,
                    ""
                    if obj is None or obj.trigger_event in ("", event)
                    else mark_safe(' style="display:none"'),
                    event.label,
                    f"category by default: {DEFAULT_CATEGORY[event]}",
                    format_html_join(
                        ", ",
                        '<code title="{}">{{{{ {} }}}}</code>',
                        ((templating.VARIABLES[n], n) for n in names),
                    ),
                )
            )
        return format_html(
            '<table class="automation-variables">{}</table><p class="help">Django template syntax: '
            "{{{{ first_name }}}}, {{% if session_location %}}…{{% endif %}}. "
            "Allowed tags: {}. Allowed filters: {}.</p>",
            format_html_join("", "{}", ((r,) for r in rows)),
            ", ".join(templating.ALLOWED_TAGS),
            ", ".join(templating.ALLOWED_FILTERS),
        )

    @admin.display(description="Preview")
    def preview(self, obj):
        if obj is None or obj.pk is None:
            return "Save the rule to see a preview."
        result = previews.preview(obj, viewer_trainer_id=getattr(obj, "preview_viewer_trainer_id", None))
        if result.error:
            return format_html('<span class="errornote">{}</span>', result.error)
        return format_html(
            '<p class="help">Rendered with {}.</p>{}<pre style="white-space:pre-wrap">{}</pre>',
            result.source,
            format_html("<p><strong>Subject:</strong> {}</p>", result.subject) if result.subject else "",
            result.body,
        )

    @admin.display(description="Statistics")
    def statistics(self, obj):
        if obj is None or obj.pk is None:
            return "—"
        logs = reverse("admin:automation_automationlog_changelist") + f"?rule__id__exact={obj.pk}"
        return format_html(
            "fired {} · sent {} · delivered {} · failed {} · skipped {} · last fired {} · "
            '<a href="{}">see the log</a>',
            obj.stat_fired,
            obj.stat_sent,
            obj.stat_delivered,
            obj.stat_failed,
            obj.stat_skipped,
            obj.stat_last_fired or "never",
            logs,
        )

    # "view": a test goes only to the user themselves and shows only their own
    # clients (with sample links), so a trainer, who cannot edit rules, may use it.
    TEST_SEND_LIMIT = 10

    @admin.action(description="Send a test to me (by email)", permissions=["view"])
    def send_test_to_me(self, request, queryset):
        if not request.user.email:
            self.message_user(request, "Your user has no email address to send the test to.", messages.ERROR)
            return
        # A test is an email to yourself: ten at once is plenty, and a "select all"
        # over a long rule list must not flood the staff member's inbox.
        chosen = list(queryset[: self.TEST_SEND_LIMIT + 1])
        if len(chosen) > self.TEST_SEND_LIMIT:
            chosen = chosen[: self.TEST_SEND_LIMIT]
            self.message_user(
                request,
                f"Only the first {self.TEST_SEND_LIMIT} selected rules were tested: select fewer to test the others.",
                messages.WARNING,
            )
        sent = 0
        for rule in chosen:
            try:
                previews.send_test(rule=rule, user=request.user)
            except ValidationError as exc:
                self.message_user(request, f"{rule}: not sent: {' '.join(exc.messages)}", messages.ERROR)
            else:
                sent += 1
        if sent:
            self.message_user(
                request,
                f"Test of {sent} rule(s) queued to {request.user.email}, rendered against a recent "
                "object of your own clients or sample values, with sample links.",
                messages.SUCCESS,
            )

    @admin.action(description="Activate selected rules", permissions=["change"])
    def activate(self, request, queryset):
        done = rules.rule_set_active(rules=queryset, user=request.user, active=True)
        self._report_set_active(request, queryset, done, "activated")

    @admin.action(description="Deactivate selected rules", permissions=["change"])
    def deactivate(self, request, queryset):
        done = rules.rule_set_active(rules=queryset, user=request.user, active=False)
        self._report_set_active(request, queryset, done, "deactivated")

    def _report_set_active(self, request, queryset, done, verb):
        self.message_user(request, f"{done} rule(s) {verb}.", messages.SUCCESS)
        if left := queryset.count() - done:
            self.message_user(
                request,
                f"{left} studio-wide rule(s) left as they were: only a manager changes them.",
                messages.WARNING,
            )


def _forecast_html(result) -> str:
    return render_to_string("admin/automation/automationrule/forecast_table.html", {"forecast": result})


@admin.register(AutomationLog)
class AutomationLogAdmin(TrainerScopedAdmin):
    trainer_lookup = "client__trainer"
    list_display = (
        "created_at",
        "rule",
        "occurrence_key",
        "status",
        "client",
        "message_link",
        "error",
        "note",
    )
    # Only the rules in the logs this user may see (a trainer's are scoped by client).
    list_filter = ("status", ("rule", admin.RelatedOnlyFieldListFilter), "created_at")
    list_select_related = ("rule", "client", "message")
    search_fields = ("occurrence_key", "client__first_name", "client__last_name", "error")
    date_hierarchy = "created_at"
    readonly_fields = ("rule", "occurrence_key", "status", "client", "message", "error", "note", "created_at")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="message")
    def message_link(self, obj):
        if not obj.message_id:
            return "—"
        try:
            url = reverse("admin:messaging_message_change", args=[obj.message_id])
        except NoReverseMatch:
            return obj.message.get_status_display()
        return format_html('<a href="{}">{}</a>', url, obj.message.get_status_display())
