from __future__ import annotations

from django.apps import AppConfig


class NoticesConfig(AppConfig):
    name = "fangzhou.notices"
    label = "notices"

    def ready(self) -> None:
        from fangzhou.notices.events import events_connect

        events_connect()
