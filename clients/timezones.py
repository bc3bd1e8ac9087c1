"""The viewer's clock: which zone a staff user's pages show times in.

Staff set their own zone (``StaffProfile.timezone``, blank = the studio's);
``ViewerTimezoneMiddleware`` activates it for each request, so Django's current
time zone — what templates, the admin and ``timezone.localtime()`` use — is the
viewer's. The studio's own calendar day never comes from here: see common.clock.
"""

import zoneinfo

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import ObjectDoesNotExist
from django.utils import timezone

from common.clock import studio_tz


def staff_tz(user) -> zoneinfo.ZoneInfo:
    """A staff user's own zone: their pages show times in it, their weekly series repeat in it.

    The studio's for anyone who has not set one (and for anyone who is not staff).
    """
    if not getattr(user, "is_authenticated", False) or not user.is_staff:
        return studio_tz()
    try:
        profile = user.staff_profile  # joined by the auth backend: no query per request
    except ObjectDoesNotExist:
        return studio_tz()
    return profile.tzinfo


class ProfileModelBackend(ModelBackend):
    """Django's model backend that loads the staff profile with the user.

    The middleware needs the viewer's zone on every request; joining it into the
    one query that loads ``request.user`` costs nothing extra and is never stale
    (a manager changing a trainer's zone takes effect on her next click).
    """

    def get_user(self, user_id):
        try:
            user = get_user_model()._default_manager.select_related("staff_profile").get(pk=user_id)
        except get_user_model().DoesNotExist:
            return None
        return user if self.user_can_authenticate(user) else None


class ViewerTimezoneMiddleware:
    """Activate the viewer's zone for the request (after AuthenticationMiddleware)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        timezone.activate(staff_tz(request.user))
        try:
            return self.get_response(request)
        finally:
            # A worker thread serves the next request with a clean slate.
            timezone.deactivate()
