"""Transfers to shelter hospitals and isolation sites: sites with their beds, batches, hand-over.

A case waits from the moment it is recorded until a batch hands it over. A batch is planned for a
site with a pick-up time and a vehicle; planning it holds beds at the site (the site's row is
locked, so two committee members planning at once cannot overfill it). The hand-over records each
case's transfer (``case_transfer_in_transaction``, the same fact the case page records by hand)
and closes the case's "arrange transfer" task. Cancelling a planned batch puts its cases back on
the waiting list.

Occupancy counts the cases that batches took (or will take) to the site and that are not yet
discharged; a transfer recorded by hand on a case page names a site in free text and does not
count against a site's beds.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from fangzhou.accounts.audit import AuditAction, audit_record
from fangzhou.accounts.models import User
from fangzhou.cases.models import Case, IsolationSite, SiteKind, TransferBatch
from fangzhou.cases.services import case_transfer_in_transaction
from fangzhou.lib.errors import Refused
from fangzhou.registry.models import Community
from fangzhou.workorders.models import CloseReason, Status
from fangzhou.workorders.services import work_orders_close_in_transaction


class TransferError(Refused):
    """Refused by the transfer rules (reason in Chinese and English)."""


def site_occupancy(site_id: int) -> int:
    return Case.objects.filter(
        transfer_batch__site_id=site_id,
        discharged_on__isnull=True,
        transfer_batch__status__in=[TransferBatch.Status.PLANNED, TransferBatch.Status.HANDED_OVER],
    ).count()


@transaction.atomic(durable=True)
def isolation_site_save(
    *, community: Community, name: str, kind: str, capacity: int, actor: User | None
) -> IsolationSite:
    """Add a site or change its beds (idempotent on the community and the name)."""
    name = " ".join(name.split())[:100]
    if not name:
        raise TransferError("请填写隔离点名称", "name the site")
    if kind not in SiteKind.values:
        raise TransferError("请选择场所类型", "choose the kind of site")
    if capacity < 0 or capacity > 100_000:
        raise TransferError("床位数应在 0 到 100000 之间", "beds must be between 0 and 100,000")
    site, created = IsolationSite.objects.select_for_update().get_or_create(
        community=community, name=name, defaults={"kind": kind, "capacity": capacity}
    )
    if not created and (site.kind, site.capacity, site.active) == (kind, capacity, True):
        return site
    before = None if created else {"kind": site.kind, "capacity": site.capacity}
    site.kind, site.capacity, site.active = kind, capacity, True
    site.save(update_fields=["kind", "capacity", "active"])
    audit_record(
        action=AuditAction.ISOLATION_SITE,
        actor=actor,
        target_type="isolation_site",
        target_id=site.pk,
        community_id=community.pk,
        detail={"name": name, "before": before, "after": {"kind": kind, "capacity": capacity}},
    )
    return site


@dataclass(frozen=True)
class BatchPlan:
    batch: TransferBatch
    created: bool


@transaction.atomic(durable=True)
def transfer_batch_plan(
    *,
    community: Community,
    site_id: int,
    case_ids: Sequence[int],
    pickup_at: dt.datetime,
    vehicle: str,
    client_id: str,
    actor: User | None,
) -> BatchPlan:
    """Plan a pick-up of waiting cases to a site, within its free beds (once per form id)."""
    client_id = client_id.strip()[:64]
    if not client_id:
        raise TransferError("表单缺少编号，请刷新页面", "the form has no id: reload the page")
    existing = TransferBatch.objects.filter(client_id=client_id).first()
    if existing is not None:
        if existing.community_id != community.pk:
            raise TransferError("表单编号冲突，请刷新页面", "form id clash: reload the page")
        return BatchPlan(existing, False)
    ids = sorted(set(case_ids))
    if not ids:
        raise TransferError("请至少选择一名待转运人员", "choose at least one case waiting for transfer")
    site = IsolationSite.objects.select_for_update().filter(pk=site_id, community=community, active=True).first()
    if site is None:
        raise TransferError("请选择隔离点", "choose a site")
    cases = list(Case.objects.select_for_update().filter(pk__in=ids, community=community).order_by("pk"))
    if len(cases) != len(ids):
        raise TransferError("有人员不属于本社区或已不存在", "a chosen case is not in this community")
    for case in cases:
        if case.discharged_on is not None or case.transferred_on is not None:
            raise TransferError("所选人员中有人已转运或已出舱", "a chosen case was already transferred or discharged")
        if case.transfer_batch_id is not None:
            raise TransferError("所选人员中有人已在另一批次中", "a chosen case is already in another batch")
    free = site.capacity - site_occupancy(site.pk)
    if len(cases) > free:
        raise TransferError(
            f"{site.name} 只剩 {max(free, 0)} 个床位，本批 {len(cases)} 人",
            f"{site.name} has {max(free, 0)} beds left for {len(cases)} people",
        )
    batch = TransferBatch.objects.create(
        community=community,
        site=site,
        pickup_at=pickup_at,
        vehicle=" ".join(vehicle.split())[:32],
        client_id=client_id,
        created_by=actor,
    )
    Case.objects.filter(pk__in=ids).update(transfer_batch=batch)
    audit_record(
        action=AuditAction.TRANSFER_BATCH,
        actor=actor,
        target_type="transfer_batch",
        target_id=batch.pk,
        community_id=community.pk,
        detail={"step": "planned", "site": site.name, "cases": len(ids)},
    )
    return BatchPlan(batch, True)


def _batch_locked(community: Community, batch_id: int) -> TransferBatch:
    batch = (
        TransferBatch.objects.select_for_update()
        .select_related("site")
        .filter(pk=batch_id, community=community)
        .first()
    )
    if batch is None:
        raise TransferError("没有这个转运批次", "no such transfer batch")
    return batch


@transaction.atomic(durable=True)
def transfer_batch_hand_over(
    *, community: Community, batch_id: int, receiver: str, actor: User | None, at: dt.datetime | None = None
) -> TransferBatch:
    """The vehicle took the batch: each case is transferred and its transfer task closes (idempotent)."""
    batch = _batch_locked(community, batch_id)
    if batch.status == TransferBatch.Status.HANDED_OVER:
        return batch
    if batch.status == TransferBatch.Status.CANCELLED:
        raise TransferError("该批次已取消", "this batch was cancelled")
    at = at or timezone.now()
    day = timezone.localdate(at)
    case_ids = list(batch.cases.filter(discharged_on__isnull=True).values_list("pk", flat=True))
    for case_id in case_ids:
        case_transfer_in_transaction(
            case_id=case_id, site_kind=batch.site.kind, site_name=batch.site.name, transferred_on=day, actor=actor
        )
    work_orders_close_in_transaction(
        reason=CloseReason.TRANSFERRED,
        outcome=Status.DONE,
        actor=actor,
        source_keys=[f"case:{case_id}:transfer" for case_id in case_ids],
    )
    batch.status = TransferBatch.Status.HANDED_OVER
    batch.handed_over_at, batch.handed_over_by = at, actor
    batch.receiver = " ".join(receiver.split())[:64]
    batch.save(update_fields=["status", "handed_over_at", "handed_over_by", "receiver"])
    audit_record(
        action=AuditAction.TRANSFER_BATCH,
        actor=actor,
        target_type="transfer_batch",
        target_id=batch.pk,
        community_id=community.pk,
        detail={"step": "handed_over", "site": batch.site.name, "cases": len(case_ids)},
    )
    return batch


@transaction.atomic(durable=True)
def transfer_batch_cancel(*, community: Community, batch_id: int, actor: User | None) -> TransferBatch:
    """A planned batch did not go: its cases wait again and its beds are free (idempotent)."""
    batch = _batch_locked(community, batch_id)
    if batch.status == TransferBatch.Status.CANCELLED:
        return batch
    if batch.status == TransferBatch.Status.HANDED_OVER:
        raise TransferError("该批次已交接，不能取消", "this batch was handed over and cannot be cancelled")
    released = Case.objects.filter(transfer_batch=batch).update(transfer_batch=None)
    batch.status = TransferBatch.Status.CANCELLED
    batch.save(update_fields=["status"])
    audit_record(
        action=AuditAction.TRANSFER_BATCH,
        actor=actor,
        target_type="transfer_batch",
        target_id=batch.pk,
        community_id=community.pk,
        detail={"step": "cancelled", "site": batch.site.name, "cases": released},
    )
    return batch


def sites_with_beds(community: Community) -> list[IsolationSite]:
    """The community's sites with ``held`` (beds taken) annotated: one query."""
    held = Count(
        "batches__cases",
        filter=Q(batches__cases__discharged_on__isnull=True)
        & Q(batches__status__in=[TransferBatch.Status.PLANNED, TransferBatch.Status.HANDED_OVER]),
    )
    sites: list[IsolationSite] = list(
        IsolationSite.objects.filter(community=community, active=True).annotate(held=held).order_by("name")
    )
    for site in sites:
        site.free = max(site.capacity - site.held, 0)  # type: ignore[attr-defined]
    return sites
