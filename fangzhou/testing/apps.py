from django.apps import AppConfig


class TestingConfig(AppConfig):
    name = "fangzhou.testing"
    label = "testing"

    def ready(self) -> None:
        from fangzhou.cases.hooks import resident_action_register
        from fangzhou.testing.selectors import retest_resident_action

        resident_action_register(retest_resident_action)
