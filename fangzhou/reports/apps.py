from django.apps import AppConfig


class ReportsConfig(AppConfig):
    name = "fangzhou.reports"
    label = "reports"
