"""Writes for the registry. Views, the API, commands and the demo all call these."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass

from django.db import transaction

from fangzhou.accounts.models import User
from fangzhou.accounts.permissions import can_unmask
from fangzhou.accounts.services import audit_record
from fangzhou.lib.errors import Refused
from fangzhou.registry.models import Building, Community, Compound, Resident, Subdistrict
from fangzhou.registry.roster.exporter import roster_workbook
from fangzhou.registry.roster.importer import ImportReport, roster_import
from fangzhou.registry.selectors import residents_for_export

__all__ = [
    "ImportReport",
    "building_token_rotate",
    "building_tokens_ensure",
    "community_create",
    "compound_upsert",
    "roster_export",
    "roster_import",
    "site_plan_apply",
]

_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$")


class RegistryError(Refused):
    """Refused by the registry rules (reason in Chinese and English)."""


@transaction.atomic
def community_create(*, code: str, name: str, subdistrict_name: str = "", actor: User | None = None) -> Community:
    """Create a community (idempotent on code: the same call again returns the same community)."""
    code = code.strip()
    name = name.strip()
    if not _CODE.match(code):
        raise RegistryError("社区代码只能用字母、数字、- 和 _", "a community code uses letters, digits, - and _ only")
    if not name:
        raise RegistryError("社区名称不能为空", "the community name is empty")
    subdistrict, _ = Subdistrict.objects.get_or_create(name=subdistrict_name.strip() or "默认街道")
    community, created = Community.objects.get_or_create(code=code, defaults={"name": name, "subdistrict": subdistrict})
    if not created and (community.name != name or (subdistrict_name and community.subdistrict_id != subdistrict.pk)):
        raise RegistryError(
            f"社区代码 {code} 已被「{community.name}」使用", f"code {code} is already used by {community.name}"
        )
    if created:
        audit_record(
            actor=actor,
            action="community.create",
            target_type="community",
            target_id=str(community.pk),
            community=community,
            detail={"code": code, "name": name},
        )
    return community


def roster_export(*, community: Community, actor: User | None) -> bytes:
    """The community's whole roster as .xlsx; writes an audit row (exports carry full ID numbers)."""
    residents = residents_for_export(community)
    audit_record(
        actor=actor,
        action="roster.export",
        target_type="community",
        target_id=str(community.pk),
        community=community,
        detail={"residents": len(residents)},
    )
    return roster_workbook(residents, title=f"{community.name} 居民花名册")


@dataclass(frozen=True)
class PlacedBuilding:
    building_id: int
    x: float
    y: float
    width: float
    depth: float
    floors: int
    footprint: list[list[float]]


@transaction.atomic
def site_plan_apply(
    *,
    community: Community,
    buildings: Iterable[PlacedBuilding],
    compounds: dict[int, tuple[float, float]] | None = None,
    actor: User | None = None,
) -> int:
    """Put buildings on the community's site plan (metres). Returns how many were placed."""
    placed = list(buildings)
    by_id = {b.pk: b for b in Building.objects.filter(community=community, pk__in=[p.building_id for p in placed])}
    changed = []
    for item in placed:
        building = by_id.get(item.building_id)
        if building is None:
            continue
        building.x, building.y = item.x, item.y
        building.width, building.depth, building.floors = item.width, item.depth, item.floors
        building.footprint = item.footprint
        changed.append(building)
    Building.objects.bulk_update(changed, ["x", "y", "width", "depth", "floors", "footprint"], batch_size=500)
    for compound_id, (ox, oy) in (compounds or {}).items():
        Compound.objects.filter(community=community, pk=compound_id).update(origin_x=ox, origin_y=oy)
    audit_record(
        actor=actor,
        action="site_plan.apply",
        target_type="community",
        target_id=str(community.pk),
        community=community,
        detail={"buildings": len(changed), "compounds": len(compounds or {})},
    )
    return len(changed)


@transaction.atomic
def compound_upsert(
    *, community: Community, name: str, kind: str = Compound.Kind.RESIDENTIAL, actor: User | None = None
) -> Compound:
    """Create a compound or change its kind (residential compound, commercial plaza, other site)."""
    if kind not in Compound.Kind.values:
        raise RegistryError(f"无效的场所类型「{kind}」", f"unknown compound kind {kind!r}")
    compound, created = Compound.objects.get_or_create(community=community, name=name.strip(), defaults={"kind": kind})
    if created:
        audit_record(
            actor=actor,
            action="compound.create",
            target_type="compound",
            target_id=str(compound.pk),
            community=community,
            detail={"name": compound.name, "kind": kind},
        )
    elif compound.kind != kind:
        before = compound.kind
        compound.kind = kind
        compound.save(update_fields=["kind"])
        audit_record(
            actor=actor,
            action="compound.update",
            target_type="compound",
            target_id=str(compound.pk),
            community=community,
            detail={"kind": [before, kind]},
        )
    return compound


def building_token_rotate(*, building: Building, actor: User | None) -> str:
    """Give a building a new public QR token (the old poster stops working at once)."""
    token = secrets.token_urlsafe(24)
    Building.objects.filter(pk=building.pk).update(public_token=token)
    building.public_token = token
    audit_record(
        actor=actor,
        action="building.token_rotate",
        target_type="building",
        target_id=str(building.pk),
        community_id=building.community_id,
        detail={},
    )
    return token


def building_tokens_ensure(*, community: Community) -> int:
    """Give every building of the community that has none a public token. Returns how many were given."""
    missing = list(Building.objects.filter(community=community, public_token=""))
    for building in missing:
        building.public_token = secrets.token_urlsafe(24)
    Building.objects.bulk_update(missing, ["public_token"], batch_size=500)
    return len(missing)


def resident_unmask(
    *, actor: User, resident: Resident, fields: Iterable[str] = ("id_number", "phone")
) -> dict[str, str]:
    """Reveal one resident's sensitive fields and write who did it to the audit log (not the values).

    Only the fields the actor may reveal (``permissions.can_unmask``) are returned; the caller
    refuses when there are none."""
    names = [f for f in fields if can_unmask(actor, resident.community_id, field=f)]
    audit_record(
        actor=actor,
        action="resident.unmask",
        target_type="resident",
        target_id=resident.pk,
        community_id=resident.community_id,
        detail={"fields": names},
    )
    return {name: getattr(resident, name) for name in names}
