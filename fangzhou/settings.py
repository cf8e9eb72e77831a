"""Django settings for Fangzhou.

Everything that differs between the embedded demo and a production deployment is read from the
environment through the helpers in :mod:`fangzhou.lib.env`:

- ``FANGZHOU_DATA_DIR`` (default ``./var``): SQLite file, uploads, generated files.
- ``DATABASE_URL``: ``sqlite:///path`` or ``postgres://user:pw@host:5432/name``.
- ``FANGZHOU_ENV``: ``development`` (default) or ``production``.
- ``SECRET_KEY``, ``ALLOWED_HOSTS`` (comma separated), ``FANGZHOU_HTTPS`` (default true in production).
"""

from __future__ import annotations

from pathlib import Path

from django.utils.translation import gettext_lazy as _

from fangzhou.lib.env import (
    ConfigError,
    database_config,
    envbool,
    envchoice,
    envfloat,
    envint,
    envstr,
    parse_public_base_url,
)

BASE_DIR = Path(__file__).resolve().parent
DATA_DIR = Path(envstr("FANGZHOU_DATA_DIR", "var")).resolve()
DATA_DIR.mkdir(parents=True, exist_ok=True)

ENVIRONMENT = envstr("FANGZHOU_ENV", "development")
if ENVIRONMENT not in {"development", "production"}:
    raise ConfigError("FANGZHOU_ENV must be development or production")
PRODUCTION = ENVIRONMENT == "production"

DEBUG = envbool("DEBUG", default=not PRODUCTION)
SECRET_KEY = envstr("SECRET_KEY")
if not SECRET_KEY:
    if PRODUCTION:
        raise ConfigError("SECRET_KEY must be set in production (50+ random characters)")
    SECRET_KEY = "dev-only-insecure-key-" + "x" * 40

ALLOWED_HOSTS = [h.strip() for h in envstr("ALLOWED_HOSTS", "127.0.0.1,localhost").split(",") if h.strip()]
if not PRODUCTION:
    ALLOWED_HOSTS += ["testserver", "[::1]"]

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "fangzhou.accounts",
    "fangzhou.registry",
    "fangzhou.testing",
    "fangzhou.cases",
    "fangzhou.zones",
    "fangzhou.volunteers",
    "fangzhou.workorders",
    "fangzhou.supplies",
    "fangzhou.care",
    "fangzhou.reports",
]

MIDDLEWARE = [
    "fangzhou.ops.middleware.RequestLogMiddleware",  # outermost: request id and one JSON line per request
    "fangzhou.ops.middleware.HealthMiddleware",  # /healthz and /readyz, ahead of the host check
    "fangzhou.ops.middleware.ProxyAddressMiddleware",  # the client's address from nginx's X-Forwarded-For
    "django.middleware.security.SecurityMiddleware",
    "fangzhou.middleware.ApiProblemMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "fangzhou.accounts.middleware.LanguageMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "fangzhou.middleware.RefusedMiddleware",
]

ROOT_URLCONF = "fangzhou.urls"
WSGI_APPLICATION = "fangzhou.wsgi.application"

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
                "django.template.context_processors.i18n",
                "fangzhou.context.role_context",
            ],
        },
    },
]

DATABASES = {"default": database_config(envstr("DATABASE_URL"), DATA_DIR)}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# The cache holds the public pages' rate-limit counters: per process by default; set
# CACHE_URL=redis://host:6379/1 when several server processes must share them.
_cache_url = envstr("CACHE_URL")
if _cache_url and not _cache_url.startswith(("redis://", "rediss://")):
    raise ConfigError("CACHE_URL must be a redis:// URL")
CACHES = {
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": _cache_url}
        if _cache_url
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}
AUTH_USER_MODEL = "accounts.User"

PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "registry:overview"
LOGOUT_REDIRECT_URL = "accounts:login"

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", _("Simplified Chinese")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = envstr("TIME_ZONE", "Asia/Shanghai")
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if PRODUCTION
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}
MEDIA_ROOT = DATA_DIR / "media"

# Uploads: rosters and lab files are small; anything larger is refused before parsing.
FANGZHOU_MAX_UPLOAD_BYTES = envint("FANGZHOU_MAX_UPLOAD_BYTES", 20 * 1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

# Domain tunables. Each is declared here once, with its default, and read in code as
# ``settings.FANGZHOU_X`` (a misspelling fails); a bad value in the environment stops start-up.
# Cases (defaults for a community that has not set its own rules): discharge needs two negative
# PCR tests at least GAP hours apart with Ct >= MIN_CT; then MONITORING days of home health
# monitoring; close contacts are followed for CONTACT days.
FANGZHOU_DISCHARGE_GAP_HOURS = envint("FANGZHOU_DISCHARGE_GAP_HOURS", 24, minimum=1, maximum=240)
FANGZHOU_DISCHARGE_MIN_CT = envfloat("FANGZHOU_DISCHARGE_MIN_CT", 35.0, minimum=0.1, maximum=45)
FANGZHOU_MONITORING_DAYS = envint("FANGZHOU_MONITORING_DAYS", 7, minimum=0, maximum=60)
FANGZHOU_CONTACT_DAYS = envint("FANGZHOU_CONTACT_DAYS", 7, minimum=0, maximum=60)
# Public (no-account) pages: requests per 10 minutes from one address (a whole building may share
# one carrier NAT) and for one building's token.
FANGZHOU_PUBLIC_RATE_PER_ADDRESS = envint("FANGZHOU_PUBLIC_RATE_PER_ADDRESS", 60, minimum=1)
FANGZHOU_PUBLIC_RATE_PER_TOKEN = envint("FANGZHOU_PUBLIC_RATE_PER_TOKEN", 1200, minimum=1)
# Care: how long before a treatment session its escort order is created.
FANGZHOU_ESCORT_LEAD_HOURS = envfloat("FANGZHOU_ESCORT_LEAD_HOURS", 24.0, minimum=0)
# Supplies: the default scaling of a government package (supplies.models.Scaling), the route
# solver's wall-clock budget and the longest trip a volunteer walks with a trolley.
FANGZHOU_PACKAGE_SCALING = envchoice("FANGZHOU_PACKAGE_SCALING", "per_household", ("per_household", "by_size"))
FANGZHOU_ROUTE_TIME_LIMIT_S = envfloat("FANGZHOU_ROUTE_TIME_LIMIT_S", 10.0, minimum=0.1)
FANGZHOU_TRIP_TIME_LIMIT_S = envint("FANGZHOU_TRIP_TIME_LIMIT_S", 2 * 3600, minimum=60)
# Volunteers' health gate: the newest negative test must be at most this old to claim field work.
FANGZHOU_VOLUNTEER_TEST_HOURS = envint("FANGZHOU_VOLUNTEER_TEST_HOURS", 48, minimum=1)
# Work orders: an overdue order goes up to the committee after this many minutes; a person holding
# this many open orders is shown as overloaded.
FANGZHOU_ESCALATE_COMMITTEE_MINUTES = envint("FANGZHOU_ESCALATE_COMMITTEE_MINUTES", 60, minimum=1)
FANGZHOU_OVERLOAD_ORDERS = envint("FANGZHOU_OVERLOAD_ORDERS", 5, minimum=1)
# Background jobs: in-process (inline) or on Celery workers (celery, with CELERY_BROKER_URL).
FANGZHOU_JOBS = envchoice("FANGZHOU_JOBS", "inline", ("inline", "celery"))
FANGZHOU_CELERY_QUEUE = envstr("FANGZHOU_CELERY_QUEUE", "celery")
CELERY_BROKER_URL = envstr("CELERY_BROKER_URL", "redis://127.0.0.1:6379/0")

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_AGE = 60 * 60 * 12
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"

if PRODUCTION:
    HTTPS = envbool("FANGZHOU_HTTPS", default=True)
    SESSION_COOKIE_SECURE = HTTPS
    CSRF_COOKIE_SECURE = HTTPS
    SECURE_SSL_REDIRECT = HTTPS and envbool("FANGZHOU_SSL_REDIRECT", default=True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = envint("FANGZHOU_HSTS_SECONDS", 31536000) if HTTPS else 0
    SECURE_HSTS_INCLUDE_SUBDOMAINS = HTTPS
    SECURE_HSTS_PRELOAD = HTTPS
    CSRF_TRUSTED_ORIGINS = [o for o in envstr("CSRF_TRUSTED_ORIGINS").split(",") if o]

# Logs go to stderr; the request log (one JSON line per request: request id, route, user id,
# status, duration; nothing personal) to stdout. FANGZHOU_LOG_JSON (default: on in production)
# writes every other line as JSON too, with the request id it belongs to.
FANGZHOU_REQUEST_LOG = envbool("FANGZHOU_REQUEST_LOG", default=True)
FANGZHOU_LOG_JSON = envbool("FANGZHOU_LOG_JSON", default=PRODUCTION)
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "fangzhou.ops.logs.JsonFormatter"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", **({"formatter": "json"} if FANGZHOU_LOG_JSON else {})},
        "requests": {"class": "logging.StreamHandler", "stream": "ext://sys.stdout", "formatter": "json"},
    },
    "loggers": {
        "fangzhou.request": {
            "handlers": ["requests"],
            "level": "INFO" if FANGZHOU_REQUEST_LOG else "WARNING",
            "propagate": False,
        },
        # Django's own "Not Found: /path" lines would put the path (a building's token) in the log; the
        # request log has every 4xx with its route pattern. Server errors (5xx) are still logged here.
        "django.request": {"level": "ERROR"},
    },
    "root": {"handlers": ["console"], "level": envstr("LOG_LEVEL", "WARNING")},
}

NINJA_PAGINATION_PER_PAGE = 50

# --- Operations (issue 15) -------------------------------------------------------------------
# The address residents reach: every URL printed (QR posters) or sent starts with it. Unset, the
# request's own host is used (the demo on one laptop) and `check --deploy` warns.
PUBLIC_BASE_URL = parse_public_base_url(envstr("PUBLIC_BASE_URL"))
# Health and readiness, the request log, backup and restore: the top of the layering.
INSTALLED_APPS += ["fangzhou.ops"]
# Proxies whose X-Forwarded-For is believed (addresses or networks, comma separated): nginx on the
# same machine by default. Add the load balancer's address when there is one in front of nginx.
FANGZHOU_TRUSTED_PROXIES = [
    p.strip() for p in envstr("FANGZHOU_TRUSTED_PROXIES", "127.0.0.1,::1").split(",") if p.strip()
]
