"""Eight committee members plan a batch for the site's last beds at the same moment (PostgreSQL):
the beds are never overfilled."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, connections
from django.utils import timezone

from fangzhou.cases.models import Case
from fangzhou.cases.services import case_confirm
from fangzhou.cases.transfers import TransferError, isolation_site_save, transfer_batch_plan
from fangzhou.registry.tests.factories import build_world

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL and real concurrent connections"),
]


def test_simultaneous_plans_never_overfill_a_site() -> None:
    world = build_world()
    cases = [
        case_confirm(resident=world.resident(name), report_date=timezone.localdate(), source="staff", actor=None)[0]
        for name in ("张伟", "李娜", "王秀英", "刘洋")
    ]
    site = isolation_site_save(community=world.community, name="方舱", kind="shelter", capacity=2, actor=None)
    barrier = threading.Barrier(len(cases))
    outcomes: list[str] = []
    lock = threading.Lock()

    def plan(case: Case) -> None:
        try:
            barrier.wait()
            transfer_batch_plan(
                community=world.community,
                site_id=site.pk,
                case_ids=[case.pk],
                pickup_at=timezone.now(),
                vehicle="",
                client_id=f"form-{case.pk}",
                actor=world.secretary,
            )
            outcome = "planned"
        except TransferError:
            outcome = "refused"
        finally:
            connections.close_all()
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=plan, args=(case,)) for case in cases]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(outcomes) == ["planned", "planned", "refused", "refused"]
    assert Case.objects.filter(transfer_batch__site=site).count() == 2
