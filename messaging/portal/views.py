from django.http import HttpResponse


def _placeholder(request, token, **kwargs):
    return HttpResponse("The client portal is on its way.")


home = reply = preferences = session_detail = session_confirm = session_cancel = _placeholder
