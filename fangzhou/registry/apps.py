from django.apps import AppConfig


class RegistryConfig(AppConfig):
    name = "fangzhou.registry"
    label = "registry"
    verbose_name = "Registry"

    def ready(self) -> None:
        from fangzhou.accounts.hooks import places_register
        from fangzhou.registry.selectors import AccountPlaces

        places_register(AccountPlaces())
