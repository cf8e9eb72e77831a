from __future__ import annotations

from django.apps import AppConfig


class CareConfig(AppConfig):
    name = "fangzhou.care"
    label = "care"

    def ready(self) -> None:
        from fangzhou.care.selectors import at_risk_overview_panel
        from fangzhou.registry.hooks import overview_panel_register

        overview_panel_register(at_risk_overview_panel)
