from django.apps import AppConfig


class WorkordersConfig(AppConfig):
    name = "fangzhou.workorders"
    label = "workorders"

    def ready(self) -> None:
        from fangzhou.registry.hooks import call_permit_register
        from fangzhou.workorders.selectors import holds_order_at_door

        call_permit_register(holds_order_at_door)
