from django.conf import settings


def studio(request):
    return {"studio_name": settings.STUDIO_NAME}
