from django.apps import AppConfig


class VolunteersConfig(AppConfig):
    name = "fangzhou.volunteers"
    label = "volunteers"
