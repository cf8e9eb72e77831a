"""The sign-in throttle (django-axes) in front of Django's password check."""

from __future__ import annotations

from typing import Any

from axes.backends import AxesStandaloneBackend
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
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


class PasswordSignIn(ModelBackend):
    """Django's password check, and a signed-in user loaded with their community and subdistrict in
    the same statement: nearly every page reads one of them (the header, the scope filters, the
    clock), which would otherwise cost a query on every request. Sessions made by the plain
    ``ModelBackend`` (listed after this one) keep working."""

    def get_user(self, user_id: Any) -> Any:
        user = get_user_model()._default_manager.select_related("community", "subdistrict").filter(pk=user_id).first()
        return user if user is not None and self.user_can_authenticate(user) else None
