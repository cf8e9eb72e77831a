from django.apps import AppConfig


class ZonesConfig(AppConfig):
    name = "fangzhou.zones"
    label = "zones"

    def ready(self) -> None:
        from fangzhou.registry.hooks import overview_panel_register
        from fangzhou.zones.overview import zone_overview_panel

        overview_panel_register(zone_overview_panel)
