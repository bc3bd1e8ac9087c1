from django.urls import path

from messaging.portal import views

app_name = "portal"

urlpatterns = [
    path("<str:token>/", views.home, name="home"),
    path("<str:token>/reply/", views.reply, name="reply"),
    path("<str:token>/preferences/", views.preferences, name="preferences"),
    path("<str:token>/book/", views.book, name="book"),
    path("<str:token>/book/confirm/", views.book_confirm, name="book_confirm"),
    path("<str:token>/waitlist/", views.waitlist, name="waitlist"),
    path(
        "<str:token>/waitlist/<int:request_id>/withdraw/",
        views.waitlist_withdraw,
        name="waitlist_withdraw",
    ),
    path("<str:token>/offers/<int:offer_id>/", views.offer, name="offer"),
    path("<str:token>/sessions/<int:session_id>/", views.session_detail, name="session"),
    path(
        "<str:token>/sessions/<int:session_id>/reschedule/",
        views.session_reschedule,
        name="session_reschedule",
    ),
    path("<str:token>/sessions/<int:session_id>/calendar.ics", views.session_ics, name="session_ics"),
    path("<str:token>/sessions/<int:session_id>/confirm/", views.session_confirm, name="session_confirm"),
    path("<str:token>/sessions/<int:session_id>/cancel/", views.session_cancel, name="session_cancel"),
]
