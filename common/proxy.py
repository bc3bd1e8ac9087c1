"""Who is on the other end of a request, when a reverse proxy stands in between."""

import ipaddress

from django.conf import settings


def client_ip(request) -> str | None:
    """The client's address for login throttling (django-axes' AXES_CLIENT_IP_CALLABLE).

    Behind a proxy every request comes from the proxy's address, so a lockout per
    username+address would lock a username for everyone. With
    ``TRUST_X_FORWARDED_FOR`` the last X-Forwarded-For entry is used: the one the
    proxy itself appended (nginx ``$proxy_add_x_forwarded_for``); earlier entries
    come from the client and prove nothing.
    """
    if settings.TRUST_X_FORWARDED_FOR:
        last = request.META.get("HTTP_X_FORWARDED_FOR", "").rsplit(",", 1)[-1].strip()
        try:
            return str(ipaddress.ip_address(last))
        except ValueError:
            pass
    return request.META.get("REMOTE_ADDR")
