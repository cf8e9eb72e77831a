from django.apps import AppConfig


class RegistryConfig(AppConfig):
    name = "fangzhou.registry"
    label = "registry"
    verbose_name = "Registry"
