from django.urls import path

from clients import views

urlpatterns = [
    path("", views.my_settings, name="my_settings"),
]
