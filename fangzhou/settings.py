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

from fangzhou.lib.env import ConfigError, envbool, envint, envstr, parse_database_url

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
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "fangzhou.accounts.middleware.LanguageMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "fangzhou.middleware.RefusedMiddleware",
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

DATABASES = {"default": parse_database_url(envstr("DATABASE_URL"), DATA_DIR).as_django()}
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
    "django.contrib.auth.backends.ModelBackend",
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
# The site's address as residents and staff reach it, for links the CLI prints.
FANGZHOU_BASE_URL = envstr("FANGZHOU_BASE_URL", "http://127.0.0.1:8000")

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

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": envstr("LOG_LEVEL", "WARNING")},
}

NINJA_PAGINATION_PER_PAGE = 50
