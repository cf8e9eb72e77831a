"""Volunteers built through the real services."""

from __future__ import annotations

import datetime as dt
import uuid

from django.utils import timezone

from fangzhou.registry.models import Building, Community
from fangzhou.volunteers.models import Volunteer
from fangzhou.volunteers.services import volunteer_approve, volunteer_signup, volunteer_test_record


def approved(
    community: Community,
    name: str,
    phone: str,
    *,
    groups: tuple[str, ...] = ("supplies",),
    building: Building | None = None,
    tested_hours_ago: float | None = 2,
) -> Volunteer:
    volunteer, _ = volunteer_signup(
        community=community, client_id=uuid.uuid4().hex, name=name, phone=phone, building=building
    )
    approval = volunteer_approve(volunteer=volunteer, actor=None, groups=groups)
    if tested_hours_ago is not None:
        volunteer_test_record(
            volunteer=approval.volunteer,
            tested_at=timezone.now() - dt.timedelta(hours=tested_hours_ago),
            result="negative",
            actor=None,
        )
    return approval.volunteer
