"""System checks for rules between settings.

A rule written only as a comment next to a setting is missed the day someone
changes one value. As checks, a bad combination stops ``runserver``, ``migrate``
and ``qcluster`` (timing) or ``check --deploy`` (production URL) with the reason.
"""

import ipaddress
from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import Error, Info, Tags, Warning, register

SITE_URL_HINT = (
    "Set SITE_URL to the public https address of this site, e.g. SITE_URL=https://crm.example.com."
)


def _is_local_host(host: str) -> bool:
    host = host.lower().rstrip(".")
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or address.is_unspecified


@register(Tags.security, deploy=True)
def check_site_url(app_configs=None, **kwargs):
    """Links in every message and every Twilio signature check are built from SITE_URL."""
    if settings.DEBUG:
        return []
    url = settings.SITE_URL
    consequence = "links in messages would not reach clients and Twilio webhooks would be refused"
    if not url:
        return [Error(f"SITE_URL is not set: {consequence}.", hint=SITE_URL_HINT, id="fitcrm.E001")]
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
    except ValueError:
        return [Error(f"SITE_URL={url!r} is not a URL.", hint=SITE_URL_HINT, id="fitcrm.E001")]
    errors = []
    if parts.scheme != "https":
        errors.append(
            Error(
                f"SITE_URL={url!r} is not https: portal and unsubscribe links would travel in clear "
                "text and Twilio signs the https address.",
                hint=SITE_URL_HINT,
                id="fitcrm.E002",
            )
        )
    if not host or _is_local_host(host):
        errors.append(
            Error(
                f"SITE_URL={url!r} is not a public address: {consequence}.",
                hint=SITE_URL_HINT,
                id="fitcrm.E003",
            )
        )
    return errors


@register(Tags.security, deploy=True)
def check_proxy_header(app_configs=None, **kwargs):
    """Said, not refused: serving https directly is a valid set-up, a proxy is the usual one."""
    if settings.DEBUG or not settings.SECURE_SSL_REDIRECT or settings.TRUST_X_FORWARDED_PROTO:
        return []
    return [
        Info(
            "TRUST_X_FORWARDED_PROTO is off: Django sees https only when the WSGI server says so "
            "(TLS in the server itself, or gunicorn's forwarded_allow_ips).",
            hint="Behind a proxy that terminates TLS and sets X-Forwarded-Proto, with a server that "
            "does not read it, set TRUST_X_FORWARDED_PROTO=true, or every request is redirected again.",
            id="fitcrm.I001",
        )
    ]


@register()
def check_task_timing(app_configs=None, **kwargs):
    """MESSAGING_TASK_SECONDS (+ one provider call) < timeout < retry < MESSAGING_SENDING_TIMEOUT_SECONDS.

    Out of order, work is done twice: a delivery task killed mid-batch leaves a
    message whose outcome is unknown, a task re-offered while it still runs plans
    or sends in two workers at once, and recovery re-queues a batch a live worker
    is still sending.
    """
    timeout = settings.Q_CLUSTER.get("timeout")
    retry = settings.Q_CLUSTER.get("retry")
    task_seconds = settings.MESSAGING_TASK_SECONDS
    call_seconds = settings.TWILIO_HTTP_TIMEOUT
    sending_timeout = settings.MESSAGING_SENDING_TIMEOUT_SECONDS
    errors = []
    if timeout is None or retry is None:
        return [
            Error(
                "Q_CLUSTER needs both a 'timeout' and a 'retry'.",
                hint="Set Q_TIMEOUT_SECONDS and Q_RETRY_SECONDS.",
                id="fitcrm.E010",
            )
        ]
    if not task_seconds + call_seconds < timeout:
        errors.append(
            Error(
                f"MESSAGING_TASK_SECONDS ({task_seconds}) plus one provider call (TWILIO_HTTP_TIMEOUT, "
                f"{call_seconds}) is not below the django-q2 task timeout ({timeout}): a delivery task "
                "could be killed in the middle of a send.",
                hint="Lower MESSAGING_TASK_SECONDS or raise Q_TIMEOUT_SECONDS.",
                id="fitcrm.E011",
            )
        )
    if not timeout < retry:
        errors.append(
            Error(
                f"The django-q2 task timeout ({timeout}) is not below its retry ({retry}): the broker "
                "would hand a task that is still running to a second worker.",
                hint="Keep Q_TIMEOUT_SECONDS below Q_RETRY_SECONDS.",
                id="fitcrm.E012",
            )
        )
    if not retry < sending_timeout:
        errors.append(
            Error(
                f"MESSAGING_SENDING_TIMEOUT_SECONDS ({sending_timeout}) is not above the django-q2 retry "
                f"({retry}): recovery could re-queue a batch that a live worker is still sending.",
                hint="Raise MESSAGING_SENDING_TIMEOUT_SECONDS (default 600).",
                id="fitcrm.E013",
            )
        )
    return errors


@register()
def check_stripe_keys(app_configs=None, **kwargs):
    """Pay links need both Stripe settings; a key of the wrong kind fails at the first click."""
    secret_key, webhook_secret = settings.STRIPE_SECRET_KEY, settings.STRIPE_WEBHOOK_SECRET
    problems = []
    if bool(secret_key) != bool(webhook_secret):
        present, missing = (
            ("STRIPE_SECRET_KEY", "STRIPE_WEBHOOK_SECRET")
            if secret_key
            else ("STRIPE_WEBHOOK_SECRET", "STRIPE_SECRET_KEY")
        )
        problems.append(
            Warning(
                f"{present} is set but {missing} is not: no pay links are offered until both are.",
                hint="See README, Money: online pay links (Stripe).",
                id="fitcrm.W020",
            )
        )
    if secret_key.startswith("pk_"):
        problems.append(
            Error(
                "STRIPE_SECRET_KEY is a publishable key (pk_...): it cannot create Checkout Sessions.",
                hint="Use the secret key (sk_live_... / sk_test_...) or a restricted key (rk_...).",
                id="fitcrm.E020",
            )
        )
    if webhook_secret and not webhook_secret.startswith("whsec_"):
        problems.append(
            Warning(
                "STRIPE_WEBHOOK_SECRET does not start with whsec_: every webhook would be refused.",
                hint="Copy the endpoint's signing secret from Stripe's dashboard (Developers → Webhooks).",
                id="fitcrm.W021",
            )
        )
    return problems
