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
