"""The one address printed on posters and sent in links: ``settings.PUBLIC_BASE_URL``.

A QR poster outlives the request that printed it: it must carry the address residents can reach,
not whatever host the secretary's browser used (``127.0.0.1``, an internal name, a proxy's
address). With ``PUBLIC_BASE_URL`` set, every printed or sent URL starts with it; without it (the
embedded demo on one laptop) the request's own address is used, and ``check --deploy`` warns.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest


def public_url(path: str, *, request: HttpRequest | None = None) -> str:
    """The absolute URL of ``path`` (as ``reverse()`` returns it) for printing or sending."""
    if not path.startswith("/"):
        raise ValueError(f"public_url wants an absolute path, not {path!r}")
    base: str = settings.PUBLIC_BASE_URL
    if base:
        return base + path
    if request is None:
        raise ValueError("PUBLIC_BASE_URL is not set and there is no request to take the address from")
    return request.build_absolute_uri(path)
