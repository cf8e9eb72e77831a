from django.apps import AppConfig


class OpsConfig(AppConfig):
    name = "fangzhou.ops"
    label = "ops"

    def ready(self) -> None:
        from fangzhou.ops import checks  # noqa: F401 - registers the deploy checks
