"""The WSGI application: Django's handler, and beside it the same handler with a shorter middleware
chain for the public antigen submit (docs/architecture.md, "The public antigen submit").

The public submit is the hot path (about 1,000 posts a second at a district's peak). Five of the
middleware do nothing for it when the request carries neither a session nor a messages cookie,
yet each costs its call on every post: the health endpoints (only ``/healthz``, ``/readyz``,
``/metrics``, and only GET/HEAD), the API's problem details (only under ``/api/``), WhiteNoise
(only files under ``STATIC_URL``), the messages (no cookie and no session to read them from, and
the submit adds none) and django-axes (acts only on a sign-in it has locked out). Such a post goes
to a handler built without those five; every other request, and any submit with a session or
messages cookie, goes through the full chain. Everything that shapes the submit's answer stays in
both, in the same order: the request id and log line, the proxy's client address, the security
and CSP headers, sessions (the ``Vary: Cookie`` of the community clock's look), the language,
the host check, CSRF, the user (lazy), the community clock, X-Frame-Options, the refusal and
database-unavailable answers. ``fangzhou/tests/test_wsgi.py`` compares the two handlers' answers.
"""

import os
import re
from typing import Any

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fangzhou.settings")
full = get_wsgi_application()

from django.conf import settings  # noqa: E402 - after the setup above
from django.core.handlers.wsgi import WSGIHandler  # noqa: E402

# No-ops for a cookieless public submit (module docstring); nothing else may be added here
# without a test that the answer stays the same.
LEAN_SKIPPED = frozenset(
    {
        "fangzhou.ops.middleware.HealthMiddleware",
        "fangzhou.middleware.ApiProblemMiddleware",
        "whitenoise.middleware.WhiteNoiseMiddleware",
        "django.contrib.messages.middleware.MessageMiddleware",
        "axes.middleware.AxesMiddleware",
    }
)
# The public submit's route (``testing/urls.py``: ``a/<str:token>/submit/``, the first patterns tried).
LEAN_PATH = re.compile(r"/testing/a/[^/]+/submit/")


class LeanHandler(WSGIHandler):
    """Django's WSGI handler with the middleware of ``settings.MIDDLEWARE`` minus ``LEAN_SKIPPED``."""

    def load_middleware(self, is_async: bool = False) -> None:
        # Django's loader reads settings.MIDDLEWARE; this runs once, at import, before any request.
        every = settings.MIDDLEWARE
        settings.MIDDLEWARE = [m for m in every if m not in LEAN_SKIPPED]
        try:
            super().load_middleware(is_async)
        finally:
            settings.MIDDLEWARE = every


lean = LeanHandler()
# A cookie header naming either cookie (or any cookie whose name ends so) takes the full chain.
_FULL_CHAIN_COOKIES = re.compile("|".join(re.escape(f"{name}=") for name in (settings.SESSION_COOKIE_NAME, "messages")))


def takes_lean_path(environ: dict[str, Any]) -> bool:
    return (
        environ.get("REQUEST_METHOD") == "POST"
        and LEAN_PATH.fullmatch(environ.get("PATH_INFO", "")) is not None
        and _FULL_CHAIN_COOKIES.search(environ.get("HTTP_COOKIE", "")) is None
    )


def application(environ: dict[str, Any], start_response: Any) -> Any:
    handler = lean if takes_lean_path(environ) else full
    return handler(environ, start_response)
