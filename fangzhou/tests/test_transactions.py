"""Services own the transaction: an entry-point service is ``atomic(durable=True)`` and refuses to
run inside another transaction; its ``*_in_transaction`` form is the one a service calls inside its own."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.db import transaction

from fangzhou.accounts.services import user_upsert
from fangzhou.cases.services import case_confirm, case_transfer, cases_import
from fangzhou.registry.services import community_create, site_plan_apply
from fangzhou.registry.tests.factories import World
from fangzhou.supplies.services import delivery_mark
from fangzhou.testing.services import round_create
from fangzhou.volunteers.services import shift_assign, signup_link_ensure, work_groups_ensure
from fangzhou.workorders.models import Kind, WorkOrder
from fangzhou.workorders.services import work_order_claim, work_order_create, work_order_create_in_transaction
from fangzhou.zones.services import open_space_upsert, site_roads_set

DURABLE: list[Callable[..., Any]] = [
    user_upsert,
    community_create,
    site_plan_apply,
    work_order_create,
    work_order_claim,
    case_confirm,
    case_transfer,
    cases_import,
    site_roads_set,
    open_space_upsert,
    round_create,
    signup_link_ensure,
    work_groups_ensure,
    shift_assign,
    delivery_mark,
]


@pytest.mark.django_db
@pytest.mark.parametrize("service", DURABLE, ids=lambda f: f.__name__)
def test_an_entry_point_refuses_to_run_inside_another_transaction(service: Callable[..., Any]) -> None:
    with transaction.atomic(), pytest.raises(RuntimeError, match="durable"):
        service()  # refused on entering its transaction, before it looks at any argument


def test_the_in_transaction_form_joins_the_callers_transaction(world: World) -> None:
    with transaction.atomic():
        order, created = work_order_create_in_transaction(
            community=world.community, kind=Kind.PATROL, title="巡逻", actor=None, source_key="patrol:1"
        )
        again, created_again = work_order_create_in_transaction(
            community=world.community, kind=Kind.PATROL, title="巡逻", actor=None, source_key="patrol:1"
        )
    assert (created, created_again) == (True, False)
    assert again.pk == order.pk
    assert WorkOrder.objects.filter(source_key="patrol:1").count() == 1


def test_work_order_create_says_whether_it_created(world: World) -> None:
    order, created = work_order_create(
        community=world.community, kind=Kind.PATROL, title="巡逻", actor=None, source_key="patrol:2"
    )
    again, created_again = work_order_create(
        community=world.community, kind=Kind.PATROL, title="巡逻", actor=None, source_key="patrol:2"
    )
    assert (created, created_again) == (True, False) and again.pk == order.pk
    _plain, plain_created = work_order_create(community=world.community, kind=Kind.PATROL, title="巡逻", actor=None)
    assert plain_created
