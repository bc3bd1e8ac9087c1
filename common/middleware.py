import logging

from django.http import Http404, HttpResponseBadRequest, QueryDict

logger = logging.getLogger(__name__)


class NulInPathNotFoundMiddleware:
    """A path with a NUL character is not found, before any view looks it up.

    No URL of ours has one, and PostgreSQL refuses NUL in text parameters: an admin
    page whose primary key is text (django-q's task lists) would look the object up
    with it before checking permissions, a 500 for anyone.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if "\x00" in request.path:
            raise Http404("No such page.")
        return self.get_response(request)


class StripNulFromQueryMiddleware:
    """Drop NUL characters from query-string keys and values.

    PostgreSQL refuses NUL in text parameters, so a NUL crafted into any GET
    value that reaches a filter (admin lists and search, autocompletes, the
    inbox search, list filters on exports) would be a 500. Cleaning it once
    here covers every view; form posts are guarded by Django's form fields.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if "%00" in request.META.get("QUERY_STRING", "") or any(
            "\x00" in key + "".join(values) for key, values in request.GET.lists()
        ):
            cleaned = QueryDict(mutable=True)
            for key, values in request.GET.lists():
                cleaned.setlist(key.replace("\x00", ""), [v.replace("\x00", "") for v in values])
            cleaned._mutable = False
            request.GET = cleaned
        return self.get_response(request)


class OutOfRangeIsBadRequestMiddleware:
    """A date or number out of range in the request is the request's fault: 400, not 500.

    An admin list filtered by ``?created_at__gte=0001-01-01 00:00+14:00`` passes the
    admin's own lookup checks and overflows only when the query is compiled (the UTC
    moment is in year 0), deep inside the view; so do other lookups at the calendar's
    ends. The traceback is still logged, so a real bug stays visible.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if isinstance(exception, OverflowError):
            logger.warning("out-of-range input in %s", request.get_full_path()[:200], exc_info=exception)
            return HttpResponseBadRequest("A date or number in this request is out of range.")
        return None
