"""The demo's transfers: the sites the district gave the community, and a batch planned for the
first case waiting (skipped when already there)."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from fangzhou.accounts.models import User
from fangzhou.cases.models import Case, TransferBatch
from fangzhou.cases.transfers import isolation_site_save, transfer_batch_plan
from fangzhou.registry.models import Community

SITES = (("国家会展中心方舱医院", "shelter", 40), ("徐汇某酒店隔离点", "isolation_point", 12))


def cases_demo_transfers(*, community: Community, actor: User | None) -> int:
    """Returns the number of cases in the demo's planned batch."""
    sites = [
        isolation_site_save(community=community, name=name, kind=kind, capacity=beds, actor=actor)
        for name, kind, beds in SITES
    ]
    client_id = f"demo-transfer-{community.code}"
    batch = TransferBatch.objects.filter(client_id=client_id).first()
    if batch is None:
        waiting = list(
            Case.objects.filter(
                community=community,
                transferred_on__isnull=True,
                discharged_on__isnull=True,
                transfer_batch__isnull=True,
            )
            .order_by("created_at")
            .values_list("pk", flat=True)[:1]
        )
        if not waiting:
            return 0
        batch = transfer_batch_plan(
            community=community,
            site_id=sites[0].pk,
            case_ids=waiting,
            pickup_at=timezone.now() + dt.timedelta(hours=2),
            vehicle="沪A·D1203",
            client_id=client_id,
            actor=actor,
        ).batch
    return batch.cases.count()
