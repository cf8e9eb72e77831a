from django.apps import AppConfig


class CasesConfig(AppConfig):
    name = "fangzhou.cases"
    label = "cases"
