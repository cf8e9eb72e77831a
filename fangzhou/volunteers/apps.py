from __future__ import annotations

from django.apps import AppConfig


class VolunteersConfig(AppConfig):
    name = "fangzhou.volunteers"
    label = "volunteers"

    def ready(self) -> None:
        from fangzhou.volunteers.selectors import door_work_health_check, work_membership
        from fangzhou.workorders.hooks import claim_check_register, membership_provider_register

        membership_provider_register(work_membership)
        claim_check_register(door_work_health_check)
