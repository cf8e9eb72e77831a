"""The sign-in throttle (django-axes) in front of Django's password check."""

from __future__ import annotations

from typing import Any

from axes.backends import AxesStandaloneBackend
from django.http import HttpRequest


class ThrottledSignIn(AxesStandaloneBackend):  # type: ignore[misc]  # axes ships no types
    """django-axes' lockout check for every sign-in over the web (the login page passes its request).

    A check with no request at all is not a web sign-in (the shell, a test's ``authenticate()``):
    there is no client to throttle, so it is left to the password check alone instead of failing."""

    def authenticate(
        self, request: HttpRequest | None, username: str | None = None, password: str | None = None, **kwargs: Any
    ) -> None:
        if request is None:
            return None
        super().authenticate(request, username, password, **kwargs)
        return None
