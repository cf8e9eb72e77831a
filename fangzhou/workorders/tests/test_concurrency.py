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


def test_one_tap_sent_eight_times_at_once_is_stored_once() -> None:
    """A phone on a flaky link resends the same outbox tap while the first is still in flight."""
    import uuid

    from django.test import Client

    from fangzhou.registry.tests.factories import build_world
    from fangzhou.volunteers.tests.helpers import approved
    from fangzhou.workorders.models import OutboxReceipt

    world = build_world()
    volunteer = approved(world.community, "王芳", "13811110101", groups=("supplies",))
    assert volunteer.user is not None
    order, _created = work_order_create(
        community=world.community, kind=Kind.SUPPLY_DELIVERY, title="送菜", actor=None, building=world.b5
    )
    form = {"client_id": uuid.uuid4().hex, "done_at_client": "2022-04-20T08:12:00+08:00"}
    copies = 8
    barrier = threading.Barrier(copies)
    answers: list[int] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def send() -> None:
        try:
            client = Client()
            client.force_login(volunteer.user)
            barrier.wait()
            response = client.post(f"/orders/{order.pk}/claim/", form, HTTP_X_FANGZHOU_OUTBOX="1")
            with lock:
                answers.append(response.status_code)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=send) for _ in range(copies)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert answers == [200] * copies
    assert OutboxReceipt.objects.filter(client_id=form["client_id"]).count() == 1
    assert WorkOrderEvent.objects.filter(order=order, to_status=Status.CLAIMED).count() == 1
    assert WorkOrder.objects.get(pk=order.pk).assignee == volunteer.user
