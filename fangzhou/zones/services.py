"""Writes for zones: the rule set, manual overrides, micro sealed zones, roads, gates, open spaces."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from django.db import transaction

from fangzhou.accounts.audit import AuditAction, audit_record, masked
from fangzhou.accounts.models import User
from fangzhou.lib.errors import Refused
from fangzhou.registry.models import Building, Community, Compound
from fangzhou.zones.core import RULE_SETS
from fangzhou.zones.models import Gate, MicroZone, OpenSpace, Road, RoadNode, ZoneOverride, ZoneSettings
from fangzhou.zones.selectors import rule_set_for
from fangzhou.zones.site import AccessOutcome, access_check_block


class ZoneError(Refused):
    """Refused by the zone rules (reason in Chinese and English)."""


class BlockCutsOff(ZoneError):
    """The drawn block cuts a building, sampling site or gate off from vehicles."""

    def __init__(self, outcome: AccessOutcome) -> None:
        names = "、".join([c.label for c in outcome.cut_off] + outcome.closed_gates)
        super().__init__(f"封控后无法通行：{names}", f"sealing cuts off: {names}")
        self.outcome = outcome


@transaction.atomic(durable=True)
def zone_rules_set(
    *, community: Community, rule_set: str, actor: User | None, clean_round_gate: bool | None = None
) -> ZoneSettings:
    """Choose the community's rule set; every status is recomputed from the facts on the next read."""
    if rule_set not in RULE_SETS:
        raise ZoneError(f"未知的规则「{rule_set}」", f"unknown rule set {rule_set!r}")
    before = rule_set_for(community).name
    row, _ = ZoneSettings.objects.select_for_update().get_or_create(community=community)
    gate = row.clean_round_gate if clean_round_gate is None else clean_round_gate
    if row.rule_set != rule_set or row.clean_round_gate != gate:
        row.rule_set = rule_set
        row.clean_round_gate = gate
        row.updated_by = actor
        row.save(update_fields=["rule_set", "clean_round_gate", "updated_by", "updated_at"])
        audit_record(
            action=AuditAction.ZONES_RULES,
            actor=actor,
            target_type="community",
            target_id=community.pk,
            community=community,
            detail={"before": before, "after": rule_set, "gate": gate},
        )
    return row


@transaction.atomic(durable=True)
def zone_override_create(
    *,
    community: Community,
    actor: User | None,
    status: str,
    reason: str,
    until: dt.date,
    since: dt.date,
    compound: Compound | None = None,
    microzone: MicroZone | None = None,
) -> ZoneOverride:
    rules = rule_set_for(community)
    if status not in rules.statuses:
        raise ZoneError(f"当前规则没有状态「{status}」", f"the current rule set has no status {status!r}")
    reason = reason.strip()
    if not reason:
        raise ZoneError("请填写调整原因", "give the reason for the override")
    if until < since:
        raise ZoneError("截止日期早于开始日期", "'until' is before 'since'")
    if (compound is None) == (microzone is None):
        raise ZoneError("请选择一个小区或封控块", "choose one compound or one block")
    for place in (compound, microzone):
        if place is not None and place.community_id != community.pk:
            raise ZoneError("不属于本社区", "not in this community")
    override = ZoneOverride.objects.create(
        community=community,
        compound=compound,
        microzone=microzone,
        status=status,
        reason=reason[:300],
        since=since,
        until=until,
        created_by=actor,
    )
    audit_record(
        action=AuditAction.ZONES_OVERRIDE,
        actor=actor,
        target_type="zone_override",
        target_id=override.pk,
        community=community,
        detail={
            "status": status,
            "reason": masked(override.reason),
            "since": since.isoformat(),
            "until": until.isoformat(),
            "place": str(compound or microzone),
        },
    )
    return override


@transaction.atomic(durable=True)
def zone_override_end(*, override_id: int, on: dt.date, actor: User | None) -> ZoneOverride:
    override = ZoneOverride.objects.select_for_update().get(pk=override_id)
    if override.ended_on is None:
        override.ended_on = on
        override.save(update_fields=["ended_on"])
        audit_record(
            action=AuditAction.ZONES_OVERRIDE_END,
            actor=actor,
            target_type="zone_override",
            target_id=override.pk,
            community=override.community,
            detail={"ended_on": on.isoformat()},
        )
    return override


# --------------------------------------------------------------------------- micro sealed zones


@dataclass
class BlockSaved:
    microzone: MicroZone
    outcome: AccessOutcome


def _block_buildings(compound: Compound, building_ids: Sequence[int]) -> list[Building]:
    ids = sorted(set(building_ids))
    if not ids:
        raise ZoneError("请至少选择一栋楼", "pick at least one building")
    buildings = list(Building.objects.filter(compound=compound, pk__in=ids))
    if len(buildings) != len(ids):
        raise ZoneError("所选楼栋不属于这个小区", "some buildings are not in this compound")
    return buildings


def _check_overlap(compound: Compound, ids: Sequence[int], exclude: MicroZone | None) -> None:
    clash = (
        MicroZone.objects.filter(compound=compound, dissolved_on__isnull=True, buildings__pk__in=ids)
        .exclude(pk=exclude.pk if exclude else 0)
        .values_list("name", flat=True)
        .distinct()
    )
    if clash:
        names = "、".join(clash)
        raise ZoneError(f"楼栋已在封控块「{names}」中", f"buildings already in block {names}")


@transaction.atomic(durable=True)
def microzone_draw(
    *,
    compound: Compound,
    name: str,
    building_ids: Sequence[int],
    drawn_on: dt.date,
    actor: User | None,
    accept_cut_off: bool = False,
) -> BlockSaved:
    """Draw a block (划一块). Refused with :class:`BlockCutsOff` if it cuts anything off, unless
    the committee explicitly accepts it (recorded in the audit log)."""
    name = name.strip()[:64]
    if not name:
        raise ZoneError("请给封控块命名", "name the block")
    Compound.objects.select_for_update().filter(pk=compound.pk).first()
    buildings = _block_buildings(compound, building_ids)
    ids = [b.pk for b in buildings]
    if MicroZone.objects.filter(compound=compound, name=name, dissolved_on__isnull=True).exists():
        raise ZoneError(f"已有名为「{name}」的封控块", f"a block named {name} already exists")
    _check_overlap(compound, ids, None)
    placed = [b.pk for b in buildings if b.x is not None and b.y is not None]
    outcome = access_check_block(compound, placed) if placed else AccessOutcome(checked=False, ok=True)
    if not outcome.ok and not accept_cut_off:
        raise BlockCutsOff(outcome)
    mz = MicroZone.objects.create(
        community_id=compound.community_id, compound=compound, name=name, drawn_on=drawn_on, created_by=actor
    )
    mz.buildings.set(buildings)
    if outcome.proposal is not None:
        mz.sampling_space_id = int(outcome.proposal.open_space.key[1:])
        mz.save(update_fields=["sampling_space"])
    audit_record(
        action=AuditAction.ZONES_BLOCK_DRAW,
        actor=actor,
        target_type="microzone",
        target_id=mz.pk,
        community=compound.community,
        detail={
            "name": name,
            "buildings": ids,
            "drawn_on": drawn_on.isoformat(),
            "cut_off": [c.label for c in outcome.cut_off] + outcome.closed_gates,
            "accepted_cut_off": bool(not outcome.ok and accept_cut_off),
        },
    )
    return BlockSaved(mz, outcome)


@transaction.atomic(durable=True)
def microzone_change(
    *, microzone_id: int, building_ids: Sequence[int], actor: User | None, accept_cut_off: bool = False
) -> BlockSaved:
    """Change a block's buildings (checked like a new block)."""
    mz = MicroZone.objects.select_for_update().select_related("compound__community").get(pk=microzone_id)
    if mz.dissolved_on is not None:
        raise ZoneError("封控块已解封", "the block is already unsealed")
    buildings = _block_buildings(mz.compound, building_ids)
    ids = [b.pk for b in buildings]
    _check_overlap(mz.compound, ids, mz)
    placed = [b.pk for b in buildings if b.x is not None and b.y is not None]
    outcome = access_check_block(mz.compound, placed, exclude=mz) if placed else AccessOutcome(checked=False, ok=True)
    if not outcome.ok and not accept_cut_off:
        raise BlockCutsOff(outcome)
    before = sorted(mz.buildings.values_list("pk", flat=True))
    mz.buildings.set(buildings)
    audit_record(
        action=AuditAction.ZONES_BLOCK_CHANGE,
        actor=actor,
        target_type="microzone",
        target_id=mz.pk,
        community=mz.compound.community,
        detail={"before": before, "after": ids},
    )
    return BlockSaved(mz, outcome)


@transaction.atomic(durable=True)
def microzone_dissolve(*, microzone_id: int, on: dt.date, actor: User | None) -> MicroZone:
    """Unseal a block (解封一块): from ``on`` its buildings follow the compound again."""
    mz = MicroZone.objects.select_for_update().select_related("compound__community").get(pk=microzone_id)
    if mz.dissolved_on is None:
        if on < mz.drawn_on:
            raise ZoneError("解封日期早于划定日期", "unsealed before it was drawn")
        mz.dissolved_on = on
        mz.save(update_fields=["dissolved_on"])
        audit_record(
            action=AuditAction.ZONES_BLOCK_DISSOLVE,
            actor=actor,
            target_type="microzone",
            target_id=mz.pk,
            community=mz.compound.community,
            detail={"on": on.isoformat()},
        )
    return mz


# --------------------------------------------------------------------------- site plan: roads, gates, spaces


@dataclass(frozen=True)
class NodeIn:
    key: str
    x: float
    y: float


@dataclass(frozen=True)
class RoadIn:
    a: str
    b: str
    width_m: float
    name: str = ""


def site_roads_set_in_transaction(
    *,
    compound: Compound,
    nodes: Sequence[NodeIn],
    roads: Sequence[RoadIn],
    gates: dict[str, str],
    actor: User | None,
) -> int:
    """Replace the compound's road graph: nodes, roads (with widths) and gates (name -> node key).

    This form runs inside the caller's transaction (the site-plan import); :func:`site_roads_set` is its own.
    """
    keys = [n.key for n in nodes]
    if len(set(keys)) != len(keys):
        raise ZoneError("道路节点重复", "duplicate road nodes")
    known = set(keys)
    for r in roads:
        if r.a not in known or r.b not in known or r.a == r.b:
            raise ZoneError(f"道路 {r.a}-{r.b} 的端点无效", f"road {r.a}-{r.b} has unknown ends")
        if r.width_m <= 0:
            raise ZoneError("道路宽度必须大于0", "a road needs a positive width")
    for name, key in gates.items():
        if key not in known:
            raise ZoneError(f"大门「{name}」不在道路上", f"gate {name} is not on a road node")
    Compound.objects.select_for_update().filter(pk=compound.pk).first()
    Gate.objects.filter(compound=compound).delete()
    Road.objects.filter(compound=compound).delete()
    RoadNode.objects.filter(compound=compound).delete()
    made = {n.key: RoadNode.objects.create(compound=compound, key=n.key, x=n.x, y=n.y) for n in nodes}
    seen: set[tuple[str, str]] = set()
    for r in roads:
        pair = (min(r.a, r.b), max(r.a, r.b))
        if pair in seen:
            continue
        seen.add(pair)
        Road.objects.create(compound=compound, a=made[pair[0]], b=made[pair[1]], width_m=r.width_m, name=r.name)
    for name, key in gates.items():
        Gate.objects.create(compound=compound, node=made[key], name=name)
    audit_record(
        action=AuditAction.ZONES_ROADS,
        actor=actor,
        target_type="compound",
        target_id=compound.pk,
        community=compound.community,
        detail={"nodes": len(nodes), "roads": len(seen), "gates": len(gates)},
    )
    return len(seen)


site_roads_set = transaction.atomic(durable=True)(site_roads_set_in_transaction)


def open_space_upsert_in_transaction(
    *, compound: Compound, name: str, x: float, y: float, kind: str = OpenSpace.Kind.OPEN_SPACE, actor: User | None
) -> OpenSpace:
    """Add or move an open space by name (inside the caller's transaction; :func:`open_space_upsert` is its own)."""
    if kind not in OpenSpace.Kind.values:
        raise ZoneError("场地类型无效", "unknown kind of open space")
    space, created = OpenSpace.objects.update_or_create(
        compound=compound, name=name.strip()[:64], defaults={"x": x, "y": y, "kind": kind}
    )
    audit_record(
        action=AuditAction.ZONES_OPEN_SPACE,
        actor=actor,
        target_type="open_space",
        target_id=space.pk,
        community=compound.community,
        detail={"name": space.name, "created": created},
    )
    return space


open_space_upsert = transaction.atomic(durable=True)(open_space_upsert_in_transaction)
