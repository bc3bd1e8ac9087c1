from django.urls import path

from messaging.inbox import views

app_name = "inbox"

urlpatterns = [
    path("", views.conversation_list, name="list"),
    path("new/", views.start, name="start"),
    path("sms-count/", views.sms_preview, name="sms_count"),
    path("<int:client_id>/", views.thread, name="thread"),
    path("<int:client_id>/send/", views.send, name="send"),
    path("<int:client_id>/read/", views.mark_read, name="mark_read"),
    path("<int:client_id>/sms-count/", views.sms_preview, name="client_sms_count"),
]
