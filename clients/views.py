"""My settings: what a staff user sets for themselves (their time zone)."""

from django.contrib import admin, messages
from django.contrib.admin.views.decorators import staff_member_required
from django.core.exceptions import ValidationError
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.utils import timezone

from clients.forms import StaffSettingsForm
from clients.models import StaffProfile
from clients.services import staff_set_timezone
from common.clock import studio_tz


@staff_member_required(login_url="admin:login")
def my_settings(request):
    profile = StaffProfile.objects.filter(user=request.user).first() or StaffProfile(user=request.user)
    form = StaffSettingsForm(request.POST or None, instance=profile)
    if request.method == "POST" and form.is_valid():
        try:
            staff_set_timezone(
                user=request.user,
                timezone_name=form.cleaned_data["timezone"],
                notify=form.cleaned_data["notify"],
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, "Your settings were saved.")
            return redirect("my_settings")
    context = {
        **admin.site.each_context(request),
        "title": "My settings",
        "form": form,
        "studio_zone": studio_tz().key,
        "now": timezone.now(),
    }
    return TemplateResponse(request, "clients/my_settings.html", context)
