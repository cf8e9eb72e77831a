"""The claim's health gate decides the claim: it is asked inside the claim's transaction, while the
order's row is locked, and a closed gate leaves the order open."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import DatabaseError, connection, connections

from fangzhou.accounts.models import User
from fangzhou.lib.errors import Refused
from fangzhou.registry.tests.factories import World
from fangzhou.workorders import hooks
from fangzhou.workorders.models import Kind, Status, WorkOrder, WorkOrderEvent
from fangzhou.workorders.services import WorkOrderError, work_order_claim, work_order_create

pytestmark = pytest.mark.django_db(transaction=True)


def _locked_elsewhere(order_id: int) -> bool:
    """Whether another connection finds the order's row locked (PostgreSQL: FOR UPDATE NOWAIT)."""
    other = connections.create_connection("default")
    try:
        with other.cursor() as cursor:
            cursor.execute("BEGIN")
            try:
                cursor.execute(
                    f"SELECT id FROM {WorkOrder._meta.db_table} WHERE id = %s FOR UPDATE NOWAIT",  # noqa: S608
                    [order_id],
                )
            except DatabaseError:
                return True
            finally:
                cursor.execute("ROLLBACK")
        return False
    finally:
        other.close()


def _door_order(world: World) -> WorkOrder:
    order, _created = work_order_create(
        community=world.community, kind=Kind.SUPPLY_DELIVERY, title="送菜上门", actor=None, building=world.b3
    )
    return order


def test_the_gate_is_asked_inside_the_transaction_with_the_order_locked(world: World, monkeypatch: Any) -> None:
    order = _door_order(world)
    postgres = connection.vendor == "postgresql"
    if postgres:
        assert not _locked_elsewhere(order.pk)  # the probe sees a free row as free
    seen: list[tuple[bool, bool | None]] = []

    def gate(actor: User) -> None:
        seen.append((connection.in_atomic_block, _locked_elsewhere(order.pk) if postgres else None))

    monkeypatch.setattr(hooks._hooks, "claim_checks", [gate])  # in place of the volunteers' health gate
    result = work_order_claim(order_id=order.pk, actor=world.volunteer)
    assert result.won
    assert seen == [(True, True if postgres else None)]


def test_a_closed_gate_leaves_the_order_open_and_unrecorded(world: World, monkeypatch: Any) -> None:
    order = _door_order(world)

    def closed(actor: User) -> None:
        raise Refused("您暂不能认领上门工单", "you cannot claim door-to-door work now")

    monkeypatch.setattr(hooks._hooks, "claim_checks", [closed])
    with pytest.raises(WorkOrderError):
        work_order_claim(order_id=order.pk, actor=world.volunteer)
    order.refresh_from_db()
    assert order.status == Status.OPEN and order.assignee_id is None
    assert not WorkOrderEvent.objects.filter(order=order, to_status=Status.CLAIMED).exists()
