from django.http import Http404, QueryDict


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
