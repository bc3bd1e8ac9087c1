from django.urls import path

from billing import views

app_name = "pay"

#: Mounted at /pay/ (fitcrm/urls.py): the links clients get in messages and the portal.
urlpatterns = [
    path("<str:token>/", views.pay, name="pay"),
    path("<str:token>/done/", views.pay_done, name="done"),
    path("<str:token>/cancelled/", views.pay_cancelled, name="cancelled"),
]

#: Mounted at /billing/: what Stripe calls.
webhook_urlpatterns = [
    path("stripe/webhook/", views.stripe_webhook, name="stripe_webhook"),
]
