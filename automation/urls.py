from django.urls import path

from automation import views

app_name = "automation"

urlpatterns = [
    path("run-triggers/", views.run_triggers, name="run-triggers"),
]
