from django.urls import path

from scheduling.calendar import views

app_name = "calendar"

urlpatterns = [
    path("", views.calendar_page, name="page"),
    path("events/", views.events, name="events"),
    path("availability/", views.availability, name="availability"),
    path("clients/", views.client_search, name="clients"),
    path("book/", views.book, name="book"),
    path("sessions/<int:session_id>/move/", views.move, name="move"),
    path("sessions/<int:session_id>/<str:action>/", views.session_action, name="action"),
    path("feed/rotate/", views.feed_rotate, name="feed_rotate"),
    path("feed/<str:token>.ics", views.feed, name="feed"),
]
