from django.contrib.auth.decorators import login_required
from django.http import HttpResponse


@login_required
def conversation_list(request):
    return HttpResponse("The inbox is on its way.")
