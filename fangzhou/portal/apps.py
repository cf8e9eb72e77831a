from __future__ import annotations

from django.apps import AppConfig


class PortalConfig(AppConfig):
    """What residents and building leaders see of the system's words: the household page, its Web
    Push subscription, and the building leader's WeChat group text and door notice."""

    name = "fangzhou.portal"
    label = "portal"
