from __future__ import annotations

from typing import Any

from django.apps import AppConfig


def _remember_time_zone(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    """At sign-in, keep the person's clock in the session: no query per request to know it."""
    from fangzhou.registry.selectors import TIME_ZONE_SESSION_KEY, user_time_zone

    session = getattr(request, "session", None)
    if session is not None:
        session[TIME_ZONE_SESSION_KEY] = user_time_zone(user)


class RegistryConfig(AppConfig):
    name = "fangzhou.registry"
    label = "registry"
    verbose_name = "Registry"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in

        user_logged_in.connect(_remember_time_zone, dispatch_uid="fangzhou.registry.time_zone")
        from fangzhou.accounts.hooks import places_register
        from fangzhou.registry.selectors import AccountPlaces

        places_register(AccountPlaces())
