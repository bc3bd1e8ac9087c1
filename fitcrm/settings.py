"""FitCRM settings: every value comes from the environment (or ``.env``).

Each variable has a working default for development. With ``DEBUG`` off nothing
secret has a default: start-up fails with a clear message instead.
See ``.env.example`` for the full list.
"""

import secrets
import zoneinfo
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

from common.envutils import strict_bool

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = strict_bool(env, "DEBUG", default=True)

SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY must be set when DEBUG is off. "
            "Generate one with: python -c 'import secrets; print(secrets.token_urlsafe(50))'"
        )
    SECRET_KEY = "django-insecure-development-only-key-do-not-use-in-production"

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"] if DEBUG else [])
if not DEBUG and not ALLOWED_HOSTS:
    # Otherwise every request would answer 400 with nothing in the log to say why.
    raise ImproperlyConfigured(
        "ALLOWED_HOSTS must be set when DEBUG is off, e.g. ALLOWED_HOSTS=crm.example.com"
    )
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# The public base URL: absolute links in messages and the URL Twilio signs.
# No default in production: `check --deploy` refuses an unset, http:// or local one.
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000" if DEBUG else "").rstrip("/")

STUDIO_NAME = env.str("STUDIO_NAME", default="FitCRM Studio")
STUDIO_TIME_ZONE = env.str("STUDIO_TIME_ZONE", default="Europe/London")
if STUDIO_TIME_ZONE not in zoneinfo.available_timezones():
    raise ImproperlyConfigured(f"STUDIO_TIME_ZONE={STUDIO_TIME_ZONE!r} is not an IANA time zone.")
CURRENCY = env.str("CURRENCY", default="GBP").upper()

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "axes",
    "anymail",
    "django_q",
    "django_htmx",
    "import_export",
    "phonenumber_field",
    "common",
    "clients",
    "scheduling",
    "billing",
    "messaging",
    "automation",
    "campaigns",
    "monitoring",
    "dashboard",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Static files straight from gunicorn, before sessions and the database are touched.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "common.middleware.NulInPathNotFoundMiddleware",
    "common.middleware.StripNulFromQueryMiddleware",
    "common.middleware.OutOfRangeIsBadRequestMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Staff pages show times in the viewer's own zone (clients/timezones.py).
    "clients.timezones.ViewerTimezoneMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Last, as django-axes asks: turns a refused login into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "fitcrm.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "common.context_processors.studio",
            ],
            # Template tags of packages that are not apps of their own.
            "libraries": {"inbox": "messaging.inbox.templatetags.inbox"},
        },
    },
]

WSGI_APPLICATION = "fitcrm.wsgi.application"
ASGI_APPLICATION = "fitcrm.asgi.application"

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
# Connections: persistent (CONN_MAX_AGE seconds) or psycopg's pool (DB_POOL, PostgreSQL);
# the defaults and the measurements behind them are in docs/scaling.md.
DB_POOL = strict_bool(env, "DB_POOL", default=False)
if DB_POOL:
    if DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        raise ImproperlyConfigured("DB_POOL=true needs PostgreSQL (DATABASE_URL=postgres://...).")
    # Django's pool and persistent connections exclude each other.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": env.int("DB_POOL_MIN_SIZE", default=1),
        "max_size": env.int("DB_POOL_MAX_SIZE", default=4),
        "timeout": env.int("DB_POOL_TIMEOUT", default=10),
    }
else:
    # Production keeps a connection per process (measured best, docs/scaling.md); the development
    # server starts a thread per request, where a kept connection would only pile up.
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=0 if DEBUG else 60))
# A kept connection the server dropped (restart, failover) is replaced, not turned into a 500.
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# Covering indexes (INCLUDE columns, for the dashboard's aggregates) are PostgreSQL's;
# SQLite, the embedded default, builds the same indexes without them, as it should.
SILENCED_SYSTEM_CHECKS = ["models.W040"]
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The ORM broker and the web server share the file: wait for locks
    # instead of failing with "database is locked".
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 20, "transaction_mode": "IMMEDIATE", "init_command": "PRAGMA journal_mode=WAL;"}
    )

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTHENTICATION_BACKENDS = [
    # django-axes first: it refuses a locked-out username+address before the password is checked.
    "axes.backends.AxesStandaloneBackend",
    # Django's model backend, loading the staff profile (the viewer's zone) with the user.
    "clients.timezones.ProfileModelBackend",
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-gb"
TIME_ZONE = STUDIO_TIME_ZONE
USE_I18N = True
# 24-hour clock in the admin's own date-time columns (fitcrm/formats/en_GB).
FORMAT_MODULE_PATH = ["fitcrm.formats"]
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = env.str("STATIC_ROOT", default="") or BASE_DIR / "staticfiles"
# With DEBUG off, `collectstatic` writes compressed copies under content-hashed names that
# WhiteNoise serves with a year's cache (see deploy/README.md); in development (and in the
# test suite) files come straight from the apps, nothing to collect.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
# Development: WhiteNoise looks files up on each request (no collectstatic needed).
WHITENOISE_AUTOREFRESH = DEBUG

LOGIN_URL = "admin:login"

PHONENUMBER_DEFAULT_REGION = env.str("PHONE_REGION", default="GB")
PHONENUMBER_DB_FORMAT = "E164"

# --- Email -----------------------------------------------------------------
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="studio@fitcrm.localhost")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
ANYMAIL = {
    # Provider keys are read by name from the environment, e.g. ANYMAIL_POSTMARK_SERVER_TOKEN.
    **{
        key.removeprefix("ANYMAIL_"): value
        for key, value in env.ENVIRON.items()
        if key.startswith("ANYMAIL_") and key != "ANYMAIL_WEBHOOK_SECRET"
    },
    # Anymail treats an empty secret as "no authentication". Unset, the tracking
    # webhooks get a random secret nobody knows: locked until configured.
    "WEBHOOK_SECRET": env.str("ANYMAIL_WEBHOOK_SECRET", default="") or f"unset:{secrets.token_urlsafe(32)}",
}

# --- SMS (Twilio) ------------------------------------------------------------
TWILIO_ACCOUNT_SID = env.str("TWILIO_ACCOUNT_SID", default="")
TWILIO_AUTH_TOKEN = env.str("TWILIO_AUTH_TOKEN", default="")
TWILIO_FROM_NUMBER = env.str("TWILIO_FROM_NUMBER", default="")
TWILIO_HTTP_TIMEOUT = env.float("TWILIO_HTTP_TIMEOUT", default=10.0)
# Only for webhooks signed with a Twilio SharedKey (X-Twilio-Webhooks-Signature-Settings).
TWILIO_WEBHOOK_SHARED_KEY_SECRET = env.str("TWILIO_WEBHOOK_SHARED_KEY_SECRET", default="")

# --- Online pay links (Stripe) ----------------------------------------------
# Both set: open payments get a pay link (/pay/<token>/) and the webhook
# (/billing/stripe/webhook/) marks them paid. Either empty: no link anywhere.
STRIPE_SECRET_KEY = env.str("STRIPE_SECRET_KEY", default="")
STRIPE_WEBHOOK_SECRET = env.str("STRIPE_WEBHOOK_SECRET", default="")
# Seconds to wait for Stripe while a client waits on the pay link's redirect.
STRIPE_HTTP_TIMEOUT = env.float("STRIPE_HTTP_TIMEOUT", default=10.0)

# --- Messaging policy --------------------------------------------------------
MESSAGING_MAX_ATTEMPTS = env.int("MESSAGING_MAX_ATTEMPTS", default=5)
MESSAGING_RETRY_BASE_SECONDS = env.int("MESSAGING_RETRY_BASE_SECONDS", default=60)
MESSAGING_SENDING_TIMEOUT_SECONDS = env.int("MESSAGING_SENDING_TIMEOUT_SECONDS", default=600)
MESSAGING_BATCH_SIZE = env.int("MESSAGING_BATCH_SIZE", default=200)
QUIET_HOURS_START = env.int("QUIET_HOURS_START", default=21)
QUIET_HOURS_END = env.int("QUIET_HOURS_END", default=8)
SMS_MONTHLY_CAP = env.int("SMS_MONTHLY_CAP", default=0)  # 0 = no cap
# What one SMS segment costs the studio (in CURRENCY): SMS campaigns show their estimate.
try:
    SMS_PRICE_PER_SEGMENT = Decimal(env.str("SMS_PRICE_PER_SEGMENT", default="0.05"))
except InvalidOperation:
    raise ImproperlyConfigured("SMS_PRICE_PER_SEGMENT must be a number, e.g. 0.05.") from None
MARKETING_WEEKLY_CAP_PER_CLIENT = env.int("MARKETING_WEEKLY_CAP_PER_CLIENT", default=3)
MARKETING_EMAILS_PER_MINUTE = env.int("MARKETING_EMAILS_PER_MINUTE", default=600)
# One delivery task stops taking new batches after this long; with one provider call
# (TWILIO_HTTP_TIMEOUT) on top it must stay below Q_CLUSTER["timeout"] (a system check, common/checks.py).
MESSAGING_TASK_SECONDS = env.int("MESSAGING_TASK_SECONDS", default=60)
# PostgreSQL: delivery bookkeeping commits without waiting for the disk (see messaging/services.py).
MESSAGING_RELAXED_COMMIT = strict_bool(env, "MESSAGING_RELAXED_COMMIT", default=True)

# --- Automation ----------------------------------------------------------------
TRIGGERS_TOKEN = env.str("TRIGGERS_TOKEN", default="")
BIRTHDAY_LOCAL_HOUR = env.int("BIRTHDAY_LOCAL_HOUR", default=9)
# A payment is due at this hour (studio time) on its due date; "48 h before" counts from here.
PAYMENT_DUE_LOCAL_HOUR = env.int("PAYMENT_DUE_LOCAL_HOUR", default=9)
# The first scan ever looks back this far; later scans resume where the last one stopped,
# catching up at most this many hours after an outage.
AUTOMATION_FIRST_LOOKBACK_MINUTES = env.int("AUTOMATION_FIRST_LOOKBACK_MINUTES", default=15)
AUTOMATION_MAX_CATCHUP_HOURS = env.int("AUTOMATION_MAX_CATCHUP_HOURS", default=48)

# --- Health and retention ------------------------------------------------------------------
# GET /healthz/ answers 503 when no delivery worker has checked in for this long, or when a
# due message has waited this long (see fitcrm/health.py). A bearer HEALTH_TOKEN shows figures.
HEALTH_TOKEN = env.str("HEALTH_TOKEN", default="")
HEALTH_WORKER_MAX_AGE_MINUTES = env.int("HEALTH_WORKER_MAX_AGE_MINUTES", default=10)
HEALTH_QUEUE_MAX_AGE_MINUTES = env.int("HEALTH_QUEUE_MAX_AGE_MINUTES", default=15)
# prune_history (daily schedule) deletes finished messages, their events and automation logs
# that can never fire again, once older than this many days; 0 keeps everything.
MESSAGING_RETENTION_DAYS = env.int("MESSAGING_RETENTION_DAYS", default=730)

# --- Client import and export (CSV) ---------------------------------------------
# Client CSV import (admin): a larger file is refused with a form error before any row
# is read; the preview and the import each hold a request and a transaction while they run.
CLIENT_IMPORT_MAX_BYTES = env.int("CLIENT_IMPORT_MAX_BYTES", default=5 * 1024 * 1024)
CLIENT_IMPORT_MAX_ROWS = env.int("CLIENT_IMPORT_MAX_ROWS", default=20_000)
# Exported cells that start with "=" lose it (django-import-export, every resource);
# clients/resources.py also covers + - @ tab and CR, which the library misses.
IMPORT_EXPORT_ESCAPE_FORMULAE_ON_EXPORT = True

# --- Portal ----------------------------------------------------------------------
PORTAL_LINK_MAX_AGE_DAYS = env.int("PORTAL_LINK_MAX_AGE_DAYS", default=30)
CANCELLATION_NOTICE_HOURS = env.int("CANCELLATION_NOTICE_HOURS", default=24)
# Clients book (and move) sessions themselves in the portal, within their trainer's
# availability; each client can also be switched off on their own page.
PORTAL_SELF_BOOKING = env.bool("PORTAL_SELF_BOOKING", default=True)
# The late-cancel window and what clients read are the studio policy's (admin → Billing →
# No-show and late-cancel policy): these two only seed it the first time it is used — the
# window, and a note shown after the policy's own sentences (which always match its settings).
CANCELLATION_POLICY_TEXT = env.str("CANCELLATION_POLICY_TEXT", default="")

# --- Background work (django-q2) -------------------------------------------------
Q_BROKER = env.str("Q_BROKER", default="orm")
Q_CLUSTER = {
    # The Redis queue key and the task-signing salt: several sites sharing one Redis
    # each need their own name; every web process and worker of one site the same.
    "name": env.str("Q_NAME", default="fitcrm"),
    "workers": env.int("Q_WORKERS", default=2),
    # A task is killed after `timeout`; the broker re-offers it after `retry`. The order
    # MESSAGING_TASK_SECONDS < timeout < retry < MESSAGING_SENDING_TIMEOUT_SECONDS is a
    # system check (common/checks.py): out of order, a message could be sent twice.
    "timeout": env.int("Q_TIMEOUT_SECONDS", default=120),
    "retry": env.int("Q_RETRY_SECONDS", default=180),
    "max_attempts": 3,
    "catch_up": False,
    "ack_failures": True,
    "save_limit": 500,
    "poll": 1,
    "label": "Background tasks",
}
if Q_BROKER == "orm":
    Q_CLUSTER["orm"] = "default"
elif Q_BROKER.startswith(("redis://", "rediss://")):
    Q_CLUSTER["redis"] = Q_BROKER
else:
    raise ImproperlyConfigured(f"Q_BROKER must be 'orm' or a redis:// URL, not {Q_BROKER!r}.")
Q_CLUSTER["sync"] = strict_bool(env, "Q_SYNC", default=False)

# --- Login throttling (django-axes) -------------------------------------------------
# Every login form that calls authenticate() (the admin's included) is counted: after
# AXES_FAILURE_LIMIT wrong passwords for one username from one address, that pair is
# refused for AXES_COOLOFF_MINUTES (another failure meanwhile restarts the wait).
# Managers see attempts and lockouts in the admin; deleting an attempt unlocks it.
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "admin/locked_out.html"
AXES_CLIENT_IP_CALLABLE = "common.proxy.client_ip"

# --- Security (production) -----------------------------------------------------------
# Only behind a proxy that sets X-Forwarded-Proto itself (and drops the client's own):
# otherwise anyone could claim https by sending the header. (gunicorn already marks
# requests https from the addresses in its forwarded_allow_ips; then leave this off.)
TRUST_X_FORWARDED_PROTO = strict_bool(env, "TRUST_X_FORWARDED_PROTO", default=False)
# Only when every request comes through a proxy that appends the client's address to
# X-Forwarded-For: the login lockout then counts per client, not per proxy.
TRUST_X_FORWARDED_FOR = strict_bool(env, "TRUST_X_FORWARDED_FOR", default=False)
if TRUST_X_FORWARDED_PROTO:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
if not DEBUG:
    SECURE_SSL_REDIRECT = strict_bool(env, "SECURE_SSL_REDIRECT", default=True)
    # Load balancers and local probes (systemd, nginx) often check over plain http.
    SECURE_REDIRECT_EXEMPT = [r"^healthz/$"]
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = strict_bool(env, "SECURE_HSTS_PRELOAD", default=True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_REFERRER_POLICY = "same-origin"

# --- Logs and error reporting ------------------------------------------------------------
# LOG_FORMAT=json: one JSON object a line (for a log shipper), with the ids a delivery line
# carries (message_id, rule_id, campaign_id...) as fields of their own.
LOG_FORMAT = env.str("LOG_FORMAT", default="plain")
if LOG_FORMAT not in {"plain", "json"}:
    raise ImproperlyConfigured(f"LOG_FORMAT must be 'plain' or 'json', not {LOG_FORMAT!r}.")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
        "json": {"()": "common.logformat.JsonFormatter"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django": {"level": "INFO", "propagate": True},
        # Failed logins and lockouts, not a start-up banner on every manage.py command.
        "axes": {"level": "WARNING", "propagate": True},
    },
}

# Errors (500s, failed tasks, logged exceptions) go to Sentry when SENTRY_DSN is set; nothing
# is sent otherwise. SENTRY_ENVIRONMENT and SENTRY_RELEASE are read by the SDK itself.
SENTRY_DSN = env.str("SENTRY_DSN", default="")
if SENTRY_DSN:
    import sentry_sdk  # only imported when configured: the SDK hooks into Django and logging

    sentry_sdk.init(
        dsn=SENTRY_DSN,
        traces_sample_rate=env.float("SENTRY_TRACES_SAMPLE_RATE", default=0.0),
        # Client names, emails and phone numbers stay out of error reports.
        send_default_pii=False,
    )
