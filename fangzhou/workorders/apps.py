from django.apps import AppConfig


class WorkordersConfig(AppConfig):
    name = "fangzhou.workorders"
    label = "workorders"
