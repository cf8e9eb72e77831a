from django.apps import AppConfig


class ZonesConfig(AppConfig):
    name = "fangzhou.zones"
    label = "zones"
