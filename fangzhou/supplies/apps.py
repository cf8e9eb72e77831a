from django.apps import AppConfig


class SuppliesConfig(AppConfig):
    name = "fangzhou.supplies"
    label = "supplies"
