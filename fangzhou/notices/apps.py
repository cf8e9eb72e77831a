from __future__ import annotations

from django.apps import AppConfig


class NoticesConfig(AppConfig):
    name = "fangzhou.notices"
    label = "notices"

    def ready(self) -> None:
        from fangzhou.cases.hooks import resident_action_register
        from fangzhou.notices.events import events_connect
        from fangzhou.notices.selectors import sms_resident_action

        events_connect()
        resident_action_register(sms_resident_action)
