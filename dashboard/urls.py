from django.contrib import admin
from django.urls import path

from dashboard import views

app_name = "dashboard"

urlpatterns = [
    path(
        "sessions/<int:pk>/<str:action>/", admin.site.admin_view(views.session_action), name="session_action"
    ),
    path("automation/skip/", admin.site.admin_view(views.skip_upcoming), name="skip_upcoming"),
]
