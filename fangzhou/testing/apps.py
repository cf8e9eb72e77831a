from django.apps import AppConfig


class TestingConfig(AppConfig):
    name = "fangzhou.testing"
    label = "testing"
