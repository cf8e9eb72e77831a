"""The demo hook builds a working volunteer organisation, and a second run changes nothing."""

from __future__ import annotations

from fangzhou.registry.tests.factories import World
from fangzhou.volunteers.demo import volunteers_demo
from fangzhou.volunteers.models import ShiftAssignment, Volunteer, WorkGroup
from fangzhou.workorders.models import ResidentRequest, WorkOrder


def test_demo_is_complete_and_idempotent(world: World) -> None:
    first = volunteers_demo(world.community, count=12)
    assert WorkGroup.objects.filter(community=world.community).count() == 7
    assert first.volunteers == Volunteer.objects.filter(community=world.community).count() >= 10
    assert first.filled > 0 and ShiftAssignment.objects.count() == first.filled
    assert WorkOrder.objects.filter(community=world.community).count() >= first.orders > 0
    assert first.accounts and first.accounts[0][1] == "volunteer"
    counts = (
        Volunteer.objects.count(),
        WorkOrder.objects.count(),
        ResidentRequest.objects.count(),
        ShiftAssignment.objects.count(),
    )
    second = volunteers_demo(world.community, count=12)
    assert (
        Volunteer.objects.count(),
        WorkOrder.objects.count(),
        ResidentRequest.objects.count(),
        ShiftAssignment.objects.count(),
    ) == counts
    assert second.filled == 0
