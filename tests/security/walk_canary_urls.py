"""A URLconf with two faulty views, to prove the walk catches what it claims to."""

from django.http import HttpResponse
from django.urls import include, path

from clients.models import Client, Tag


def crashes_on_odd_input(request, object_id):
    if not (object_id.isdigit() and Client.objects.filter(pk=int(object_id)).exists()):
        raise ValueError(f"unexpected id {object_id!r}")  # an unhandled error: a 500
    return HttpResponse("ok")


def writes_for_anyone(request):
    if request.method == "POST":
        Tag.objects.create(name="written by the walk")
    return HttpResponse("ok")


urlpatterns = [
    path("canary/<path:object_id>/", crashes_on_odd_input),
    path("nested/", include([path("writes/", writes_for_anyone)])),
]
