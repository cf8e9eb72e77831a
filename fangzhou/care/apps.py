from django.apps import AppConfig


class CareConfig(AppConfig):
    name = "fangzhou.care"
    label = "care"
