"""`fangzhou orders escalate` runs the same service as a schedule would."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.utils import timezone

from fangzhou.cli import main
from fangzhou.registry.tests.factories import World
from fangzhou.workorders.models import Kind, WorkOrder
from fangzhou.workorders.services import work_order_create


def test_escalate_command(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    order, _created = work_order_create(
        community=world.community,
        kind=Kind.PATROL,
        title="巡逻",
        actor=None,
        due_at=timezone.now() - dt.timedelta(minutes=5),
    )
    assert main(["orders", "escalate", "--community", "T01", "--json"]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1]) == {"lead": 1, "committee": 0}
    assert WorkOrder.objects.get(pk=order.pk).escalation_level == 1
    assert main(["orders", "escalate", "--community", "NOPE", "--json"]) == 2
