"""Django settings for Fangzhou.

Everything that differs between the embedded demo and a production deployment is read from the
environment through the helpers in :mod:`fangzhou.lib.env`:

- ``FANGZHOU_DATA_DIR`` (default ``./var``): SQLite file, uploads, generated files.
- ``DATABASE_URL``: ``sqlite:///path`` or ``postgres://user:pw@host:5432/name``.
- ``FANGZHOU_ENV``: ``development`` (default) or ``production``.
- ``SECRET_KEY``, ``SECRET_KEY_FALLBACKS`` (comma separated, while rotating), ``ALLOWED_HOSTS`` (comma
  separated), ``FANGZHOU_HTTPS`` (default true in production).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from django.utils.translation import gettext_lazy as _

from fangzhou.lib.env import (
    ConfigError,
    database_config,
    envbool,
    envchoice,
    envfloat,
    envint,
    envintmap,
    envmap,
    envnetworks,
    envpeers,
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
# Old keys still accepted for signatures while a new SECRET_KEY takes over (docs/security.md).
SECRET_KEY_FALLBACKS = [k.strip() for k in envstr("SECRET_KEY_FALLBACKS").split(",") if k.strip()]

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
    "axes",
    "csp",
    "ninja",  # serves Swagger UI from our own static files (no CDN, no inline script: CSP)
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
    "fangzhou.surveys",
    "fangzhou.notices",
    "fangzhou.portal",
]

MIDDLEWARE = [
    "fangzhou.ops.middleware.RequestLogMiddleware",  # outermost: request id and one JSON line per request
    "fangzhou.ops.middleware.HealthMiddleware",  # /healthz and /readyz, ahead of the host check
    "fangzhou.ops.middleware.ProxyAddressMiddleware",  # the client's address from nginx's X-Forwarded-For
    "django.middleware.security.SecurityMiddleware",
    "fangzhou.middleware.CSPMiddleware",  # django-csp's, with the constant policy built once
    "fangzhou.middleware.ApiProblemMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "fangzhou.accounts.middleware.LanguageMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "fangzhou.middleware.TimeZoneMiddleware",  # the community's clock for every time shown
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "fangzhou.middleware.RefusedMiddleware",
    "fangzhou.middleware.DatabaseUnavailableMiddleware",
    # Last, as django-axes asks: turns a locked-out sign-in into the lockout page.
    "axes.middleware.AxesMiddleware",
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
# PostgreSQL prepares the few hottest statements (the public antigen submit's) once per connection.
# Off only behind a connection pooler that cannot keep prepared statements (PgBouncer < 1.21 in
# transaction mode).
FANGZHOU_DB_PREPARE = envbool("FANGZHOU_DB_PREPARE", default=True)
# PostgreSQL's JIT compiler off for this application's connections: it compiled the subdistrict
# table's one statement of 30 communities for 0.37 s to run it in 0.36 s (a statement's estimated
# cost crosses ``jit_above_cost`` with the number of communities, so 30 were not 30 times one).
FANGZHOU_DB_JIT = envbool("FANGZHOU_DB_JIT", default=False)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# The cache holds the public pages' rate-limit counters: per process by default; set
# CACHE_URL=redis://host:6379/1 when several server processes must share them.
_cache_url = envstr("CACHE_URL")
if _cache_url and not _cache_url.startswith(("redis://", "rediss://")):
    raise ConfigError("CACHE_URL must be a redis:// URL")
CACHES = {
    "default": (
        {"BACKEND": "fangzhou.lib.cache.RedisCache", "LOCATION": _cache_url}
        if _cache_url
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}
AUTH_USER_MODEL = "accounts.User"

PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
# The password policy (fangzhou/accounts/passwords.py: Django's validators, refusals in both languages),
# applied whenever a person chooses a password (the change page, a one-time link).
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "fangzhou.accounts.passwords.MinimumLength", "OPTIONS": {"min_length": 10}},
    {"NAME": "fangzhou.accounts.passwords.NotCommon"},
    {"NAME": "fangzhou.accounts.passwords.NotNumeric"},
    {
        "NAME": "fangzhou.accounts.passwords.NotLikeTheUser",
        "OPTIONS": {"user_attributes": ["username", "display_name"]},
    },
]
# Sign-in throttling (django-axes): failures are recorded in the database (AccessAttempt, and
# AccessFailureLog for each one), and an account is locked after AXES_FAILURE_LIMIT failures in a
# row, per user name (not per address: a building shares one carrier NAT, and a guesser rotating
# addresses must not get a fresh budget). Guessing during the lock extends it; the committee's
# one-time link (accounts.services.signin_link_create) lets a locked-out colleague back in.
AUTHENTICATION_BACKENDS = [
    "fangzhou.accounts.backends.ThrottledSignIn",
    "fangzhou.accounts.backends.PasswordSignIn",  # the user with their community in one query
    "django.contrib.auth.backends.ModelBackend",  # sessions signed in before PasswordSignIn existed
]
AXES_FAILURE_LIMIT = envint("FANGZHOU_LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = dt.timedelta(minutes=envint("FANGZHOU_LOGIN_LOCK_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = ["username"]
# axes.W006 asks to lock by address as well. Not here: staff phones share carrier NAT addresses, so
# an address lock would let one guesser lock out every colleague behind it. The lock is keyed on the
# account, which rotating user agents or cookies cannot reset (the check's concern); spraying many
# accounts from one address is the per-address limiter's job (docs/security.md).
SILENCED_SYSTEM_CHECKS = ["axes.W006"]
AXES_RESET_ON_SUCCESS = True
AXES_ENABLE_ACCESS_FAILURE_LOG = True
AXES_LOCKOUT_CALLABLE = "fangzhou.accounts.views.locked_out"
AXES_VERBOSE = False
# A one-time sign-in / reset link made by the committee is valid this long, and only once.
FANGZHOU_SIGNIN_LINK_HOURS = envint("FANGZHOU_SIGNIN_LINK_HOURS", 24)

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
# The big screen (大屏) refreshes its figures in place this often, in seconds.
FANGZHOU_SCREEN_REFRESH_S = envint("FANGZHOU_SCREEN_REFRESH_S", 60)
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
# The schedule (fangzhou/ops/schedule.py) runs in a thread of each server process in the embedded
# default, on Celery beat (`fangzhou scheduler`) with Celery jobs; `off` leaves it to another machine.
FANGZHOU_SCHEDULER = envchoice(
    "FANGZHOU_SCHEDULER", "thread" if FANGZHOU_JOBS == "inline" else "beat", ("thread", "beat", "off")
)
FANGZHOU_SCHEDULER_TICK_S = envfloat("FANGZHOU_SCHEDULER_TICK_S", 30.0, minimum=0.1)
# Per-entry interval overrides in seconds ("escalate=2,retention=60"): tests and rehearsals.
FANGZHOU_SCHEDULE_EVERY_S = envintmap("FANGZHOU_SCHEDULE_EVERY_S")
# Notices (docs/architecture.md, "Notices"). SMS through Tencent Cloud SMS: the API key pair, the
# SMS application, the approved signature name and one approved template id per notice kind
# ("pool_positive=1234567,delivery_done=1234568,default=1234569").
TENCENT_SMS_SECRET_ID = envstr("TENCENT_SMS_SECRET_ID")
TENCENT_SMS_SECRET_KEY = envstr("TENCENT_SMS_SECRET_KEY")
TENCENT_SMS_APP_ID = envstr("TENCENT_SMS_APP_ID")
TENCENT_SMS_SIGN_NAME = envstr("TENCENT_SMS_SIGN_NAME")
TENCENT_SMS_REGION = envstr("TENCENT_SMS_REGION", "ap-guangzhou")
TENCENT_SMS_ENDPOINT = envstr("TENCENT_SMS_ENDPOINT", "https://sms.tencentcloudapi.com/")
TENCENT_SMS_TEMPLATES = envmap("TENCENT_SMS_TEMPLATES")
# Web Push: the server's VAPID key pair (the private key as base64url DER or PEM, the public key as
# the browser's applicationServerKey) and the contact the push services may write to.
VAPID_PRIVATE_KEY = envstr("VAPID_PRIVATE_KEY")
VAPID_PUBLIC_KEY = envstr("VAPID_PUBLIC_KEY")
VAPID_SUBJECT = envstr("VAPID_SUBJECT", "mailto:admin@fangzhou.invalid")
# A failed send is retried this many times, waiting base * 2**n seconds between tries.
FANGZHOU_NOTICE_ATTEMPTS = envint("FANGZHOU_NOTICE_ATTEMPTS", 5, minimum=1, maximum=20)
FANGZHOU_NOTICE_BACKOFF_SECONDS = envint("FANGZHOU_NOTICE_BACKOFF_SECONDS", 60, minimum=1)

# With a shared Redis cache, a session is read from it and written to both (Django's cached_db):
# a signed-in page costs no session query. Without one, the cache is each process's own memory,
# where a signing-out in one worker would not reach the others: the sessions stay in the database.
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db" if _cache_url else "django.contrib.sessions.backends.db"
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
# Retention (fangzhou/ops/retention.py): days after a community's emergency ended, per kind, over
# the defaults ("antigen_reports=30,pcr_samples=30,cases=180,photos=7,audit=365,...").
FANGZHOU_RETENTION_DAYS = envintmap("FANGZHOU_RETENTION_DAYS", minimum=0)
# The schedule's nightly backup ($FANGZHOU_DATA_DIR/backups): archives older than this are removed.
FANGZHOU_BACKUP_KEEP_DAYS = envint("FANGZHOU_BACKUP_KEEP_DAYS", 14, minimum=1)
# /metrics (Prometheus): from loopback only, not through a proxy; with a token, from anywhere with it.
FANGZHOU_METRICS_TOKEN = envstr("FANGZHOU_METRICS_TOKEN")
# The city view as a federation: peers whose counts-only daily tables this instance pulls, as JSON
# [{"name": "徐汇区", "url": "https://xh.example.org", "token": "fz_..."}] (a reports:read key of each).
FANGZHOU_FEDERATION_PEERS = envpeers("FANGZHOU_FEDERATION_PEERS")
FANGZHOU_FEDERATION_TIMEOUT_S = envfloat("FANGZHOU_FEDERATION_TIMEOUT_S", 10.0, minimum=0.5)

# --------------------------------------------------------------------------------------------------
# Edge (issue 11): the client's address behind our proxies, the public limits, CSP.
# Sizing and reasons: docs/architecture.md, "Public pages at the edge".

# Proxies whose X-Forwarded-For we believe (comma-separated addresses or networks, e.g.
# "127.0.0.1,10.0.0.0/8"): nginx on the same machine by default; set it empty when nothing proxies
# (the connection's own address, REMOTE_ADDR, is then the client's).
FANGZHOU_TRUSTED_PROXIES = envnetworks("FANGZHOU_TRUSTED_PROXIES", "127.0.0.1,::1")
# Public pages and public API endpoints: requests per window, per address and per building token.
FANGZHOU_PUBLIC_RATE_WINDOW_S = envint("FANGZHOU_PUBLIC_RATE_WINDOW_S", 600, minimum=1)
FANGZHOU_PUBLIC_RATE_PER_ADDRESS = envint("FANGZHOU_PUBLIC_RATE_PER_ADDRESS", 2000, minimum=1)
FANGZHOU_PUBLIC_RATE_PER_TOKEN = envint("FANGZHOU_PUBLIC_RATE_PER_TOKEN", 4000, minimum=1)
# Machine clients' API tokens (a lab, the sampling app, a district system): requests per window per
# token, and the most rows one post may carry (a district round is 25,000 tubes: a few posts).
FANGZHOU_API_TOKEN_RATE_WINDOW_S = envint("FANGZHOU_API_TOKEN_RATE_WINDOW_S", 60, minimum=1)
FANGZHOU_API_TOKEN_RATE = envint("FANGZHOU_API_TOKEN_RATE", 120, minimum=1)
FANGZHOU_API_MAX_ROWS = envint("FANGZHOU_API_MAX_ROWS", 5000, minimum=1)
# Household identify (room + last 4 phone digits): wrong answers before a lock, first lock's length.
FANGZHOU_IDENTIFY_MAX_FAILURES = envint("FANGZHOU_IDENTIFY_MAX_FAILURES", 5, minimum=1)
FANGZHOU_IDENTIFY_LOCK_S = envint("FANGZHOU_IDENTIFY_LOCK_S", 900, minimum=1)
# The household page (issue 14): how long the signed household cookie, given after room + last 4
# phone digits on the building's QR page, stays valid (hours).
FANGZHOU_HOUSEHOLD_SESSION_HOURS = envint("FANGZHOU_HOUSEHOLD_SESSION_HOURS", 12, minimum=1, maximum=168)
# Web Push: VAPID_PUBLIC_KEY (above, with the notices) is what the household page's pushManager.subscribe
# takes (URL-safe base64 of the raw P-256 point); empty, the household page offers no push.
# The database cannot be reached: pages and the API answer 503 with this Retry-After (seconds).
FANGZHOU_DB_RETRY_AFTER_S = envint("FANGZHOU_DB_RETRY_AFTER_S", 30)
# Content-Security-Policy (django-csp): no inline script and no eval anywhere (behaviour lives in
# static files; htmx runs with allowEval off). Inline style *attributes* stay allowed: colours and
# bar widths come from data (zone colours are a rule set's); <style> elements are not.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'", "'unsafe-inline'"],  # browsers without the two below
        "style-src-elem": ["'self'"],
        "style-src-attr": ["'unsafe-inline'"],
        "img-src": ["'self'", "data:", "blob:"],  # the antigen page shrinks a photo through a blob URL
        "connect-src": ["'self'"],
        "worker-src": ["'self'"],  # the field roles' service worker, /sw.js (issue 13)
        "manifest-src": ["'self'"],
        "font-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}
