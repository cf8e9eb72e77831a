from __future__ import annotations

from django.apps import AppConfig


class ReportsConfig(AppConfig):
    name = "fangzhou.reports"
    label = "reports"

    def ready(self) -> None:
        from fangzhou.registry.hooks import overview_panel_register
        from fangzhou.reports.selectors import figures_overview_panel

        overview_panel_register(figures_overview_panel)
