"""Twenty volunteers tap "claim" on one order at the same moment: exactly one wins (PostgreSQL)."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, connections

from fangzhou.accounts.models import Role
from fangzhou.accounts.services import user_upsert
from fangzhou.registry.services import community_create
from fangzhou.workorders.models import Kind, Status, WorkOrder, WorkOrderEvent
from fangzhou.workorders.services import ClaimResult, work_order_claim, work_order_create

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL and real concurrent connections"),
]

N = 20


def test_twenty_simultaneous_claims_have_exactly_one_winner() -> None:
    community = community_create(code="PC1", name="并发认领")
    users = [
        user_upsert(username=f"claimer{i}", password="x-long-password", role=Role.VOLUNTEER, community=community)
        for i in range(N)
    ]
    order, _created = work_order_create(community=community, kind=Kind.PATROL, title="夜间巡逻", actor=None)
    barrier = threading.Barrier(N)
    results: list[ClaimResult] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def tap(user_index: int) -> None:
        try:
            barrier.wait()
            result = work_order_claim(order_id=order.pk, actor=users[user_index])
            with lock:
                results.append(result)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=tap, args=(i,)) for i in range(N)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert len(results) == N
    winners = [r for r in results if r.won]
    assert len(winners) == 1
    winner = winners[0].holder
    assert winner is not None
    # Every loser is told who won.
    assert {r.holder.pk for r in results if r.holder is not None} == {winner.pk}
    assert all(r.holder is not None for r in results)
    order.refresh_from_db()
    assert order.status == Status.CLAIMED and order.assignee_id == winner.pk
    assert WorkOrderEvent.objects.filter(order=order, to_status=Status.CLAIMED).count() == 1
    assert WorkOrder.objects.filter(pk=order.pk, status=Status.CLAIMED).count() == 1
