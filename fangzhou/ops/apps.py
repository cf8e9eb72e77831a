from django.apps import AppConfig


class OpsConfig(AppConfig):
    name = "fangzhou.ops"
    label = "ops"

    def ready(self) -> None:
        from fangzhou.ops import checks  # noqa: F401 - registers the deploy checks
        from fangzhou.ops.overview import emergency_overview_panel
        from fangzhou.registry.hooks import overview_panel_register

        overview_panel_register(emergency_overview_panel)
