"""Rate limits for the public (no-account) pages: per address and per building token.

A resident's page identifies a household by room + the last 4 digits of a phone; without a limit
those 4 digits could be guessed. Counts live in Django's cache (per process for the embedded
default; configure a shared cache such as Redis when running several workers).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse, JsonResponse

WINDOW_S = 600
TOO_MANY = "提交过于频繁，请稍后再试。/ Too many requests, please try again later."


def _hit(key: str, limit: int) -> bool:
    """Count one hit in the window; False when over the limit."""
    if cache.add(key, 1, WINDOW_S):
        return True
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, WINDOW_S)
        return True
    return count <= limit


def public_rate_limited(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Refuse with 429 (and a Chinese and English message) past the per-address or per-token limit.

    Posts from a page's own script (``fetch``, which does not ask for HTML) get the refusal as
    JSON ``{"ok", "detail"}``; a browser's page or form gets it as text."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, token: str, *args: Any, **kwargs: Any) -> HttpResponse:
        per_address = settings.FANGZHOU_PUBLIC_RATE_PER_ADDRESS
        per_token = settings.FANGZHOU_PUBLIC_RATE_PER_TOKEN
        address = request.META.get("REMOTE_ADDR", "")
        ok = _hit(f"fz:rl:addr:{address}", per_address) & _hit(f"fz:rl:tok:{token[:64]}", per_token)
        if not ok:
            if request.method == "POST" and "text/html" not in request.headers.get("Accept", ""):
                return JsonResponse({"ok": False, "detail": TOO_MANY}, status=429)
            return HttpResponse(TOO_MANY, status=429, content_type="text/plain; charset=utf-8")
        return view(request, token, *args, **kwargs)

    return wrapper
