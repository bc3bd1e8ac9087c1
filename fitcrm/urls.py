from django.contrib import admin
from django.urls import include, path

from billing.urls import webhook_urlpatterns as billing_webhooks
from dashboard import views as dashboard_views
from messaging.urls import anymail_urlpatterns
from messaging.views import unsubscribe
from monitoring.views import healthz

admin.site.site_header = "FitCRM"
admin.site.site_title = "FitCRM"
admin.site.index_title = "Studio back office"

urlpatterns = [
    # The dashboard is the admin's home page; the app list lives on in its side column.
    path("admin/", admin.site.admin_view(dashboard_views.index), name="dashboard"),
    path("dashboard/", include("dashboard.urls")),
    path("admin/", admin.site.urls),
    # Only the configured ESP's webhooks (derived from EMAIL_BACKEND).
    path("anymail/", include(anymail_urlpatterns())),
    path("settings/", include("clients.urls")),
    path("calendar/", include("scheduling.calendar.urls")),
    path("inbox/", include("messaging.inbox.urls")),
    path("portal/", include("messaging.portal.urls")),
    path("messaging/", include("messaging.urls")),
    path("unsubscribe/<str:token>/", unsubscribe, name="unsubscribe"),
    path("pay/", include("billing.urls")),
    path("billing/", include((billing_webhooks, "billing"))),
    path("automation/", include("automation.urls")),
    path("healthz/", healthz, name="healthz"),
]
