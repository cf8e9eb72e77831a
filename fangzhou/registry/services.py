"""Writes for the registry. Views, the API, commands and the demo all call these."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass

from django.db import connection, transaction
from django.db.models import Count
from django.utils import timezone

from fangzhou.accounts.audit import AuditAction, audit_record
from fangzhou.accounts.models import User
from fangzhou.accounts.permissions import can_decide_transfer, can_unmask
from fangzhou.lib.errors import Refused
from fangzhou.lib.importing import ImportReport
from fangzhou.registry.models import (
    Building,
    Community,
    CommunityCount,
    Compound,
    Household,
    Resident,
    ResidentTransfer,
    Subdistrict,
    TransferStatus,
)
from fangzhou.registry.roster import normalize as nz
from fangzhou.registry.roster.exporter import roster_workbook
from fangzhou.registry.roster.importer import roster_import
from fangzhou.registry.selectors import residents_for_export

__all__ = [
    "ImportReport",
    "building_token_rotate",
    "building_tokens_ensure",
    "community_counts_check",
    "community_counts_repair",
    "community_create",
    "compound_upsert",
    "roster_export",
    "roster_import",
    "site_plan_apply",
]

_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$")


class RegistryError(Refused):
    """Refused by the registry rules (reason in Chinese and English)."""


@transaction.atomic(durable=True)
def community_create(
    *, code: str, name: str, subdistrict_name: str = "", phone_area_code: str = "", actor: User | None = None
) -> Community:
    """Create a community (idempotent on code: the same call again returns the same community).
    ``phone_area_code`` ("021", "0571") is given to landlines written without one; Shanghai's by default."""
    code = code.strip()
    name = name.strip()
    area = nz.area_code(phone_area_code) if phone_area_code.strip() else nz.area_code(nz.DEFAULT_AREA_CODE)
    if not area:
        raise RegistryError(
            f"区号「{phone_area_code}」无效（如 021、0571）",
            f"area code {phone_area_code!r} is not valid (e.g. 021, 0571)",
        )
    if not _CODE.match(code):
        raise RegistryError("社区代码只能用字母、数字、- 和 _", "a community code uses letters, digits, - and _ only")
    if not name:
        raise RegistryError("社区名称不能为空", "the community name is empty")
    subdistrict, _ = Subdistrict.objects.get_or_create(name=subdistrict_name.strip() or "默认街道")
    community, created = Community.objects.get_or_create(
        code=code, defaults={"name": name, "subdistrict": subdistrict, "phone_area_code": "0" + area}
    )
    if not created and (community.name != name or (subdistrict_name and community.subdistrict_id != subdistrict.pk)):
        raise RegistryError(
            f"社区代码 {code} 已被「{community.name}」使用", f"code {code} is already used by {community.name}"
        )
    if created:
        audit_record(
            action=AuditAction.COMMUNITY_CREATE,
            actor=actor,
            target_type="community",
            target_id=str(community.pk),
            community=community,
            detail={"code": code, "name": name},
        )
    return community


@transaction.atomic(durable=True)
def roster_export(*, community: Community, actor: User | None) -> bytes:
    """The community's whole roster as .xlsx; writes an audit row (exports carry full ID numbers)."""
    residents = residents_for_export(community)
    audit_record(
        action=AuditAction.ROSTER_EXPORT,
        actor=actor,
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


def site_plan_apply_in_transaction(
    *,
    community: Community,
    buildings: Iterable[PlacedBuilding],
    compounds: dict[int, tuple[float, float]] | None = None,
    actor: User | None = None,
) -> int:
    """Put buildings on the community's site plan (metres). Returns how many were placed.

    This form runs inside the caller's transaction (the site-plan import); :func:`site_plan_apply` is its own.
    """
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
        action=AuditAction.SITE_PLAN_APPLY,
        actor=actor,
        target_type="community",
        target_id=str(community.pk),
        community=community,
        detail={"buildings": len(changed), "compounds": len(compounds or {})},
    )
    return len(changed)


site_plan_apply = transaction.atomic(durable=True)(site_plan_apply_in_transaction)


@transaction.atomic(durable=True)
def compound_upsert(
    *,
    community: Community,
    name: str,
    kind: str = Compound.Kind.RESIDENTIAL,
    short_name: str | None = None,
    actor: User | None = None,
) -> Compound:
    """Create a compound or change its kind (residential compound, commercial plaza, other site) or
    its short name (what people call it, "一村"; None leaves it as it is)."""
    if kind not in Compound.Kind.values:
        raise RegistryError(f"无效的场所类型「{kind}」", f"unknown compound kind {kind!r}")
    short = None if short_name is None else short_name.strip()[:32]
    compound, created = Compound.objects.get_or_create(
        community=community, name=name.strip(), defaults={"kind": kind, "short_name": short or ""}
    )
    if created:
        audit_record(
            action=AuditAction.COMPOUND_CREATE,
            actor=actor,
            target_type="compound",
            target_id=str(compound.pk),
            community=community,
            detail={"name": compound.name, "kind": kind, "short_name": compound.short_name},
        )
        return compound
    changes: dict[str, list[str]] = {}
    if compound.kind != kind:
        changes["kind"] = [compound.kind, kind]
        compound.kind = kind
    if short is not None and compound.short_name != short:
        changes["short_name"] = [compound.short_name, short]
        compound.short_name = short
    if changes:
        compound.save(update_fields=list(changes))
        audit_record(
            action=AuditAction.COMPOUND_UPDATE,
            actor=actor,
            target_type="compound",
            target_id=str(compound.pk),
            community=community,
            detail=changes,
        )
    return compound


@transaction.atomic(durable=True)
def building_token_rotate(*, building: Building, actor: User | None) -> str:
    """Give a building a new public QR token (the old poster stops working at once)."""
    token = secrets.token_urlsafe(24)
    Building.objects.filter(pk=building.pk).update(public_token=token)
    building.public_token = token
    audit_record(
        action=AuditAction.BUILDING_TOKEN_ROTATE,
        actor=actor,
        target_type="building",
        target_id=str(building.pk),
        community_id=building.community_id,
        detail={},
    )
    return token


@transaction.atomic(durable=True)
def building_tokens_ensure(*, community: Community) -> int:
    """Give every building of the community that has none a public token. Returns how many were given."""
    missing = list(Building.objects.filter(community=community, public_token=""))
    for building in missing:
        building.public_token = secrets.token_urlsafe(24)
    Building.objects.bulk_update(missing, ["public_token"], batch_size=500)
    if missing:
        audit_record(
            action=AuditAction.BUILDING_TOKENS_ENSURE,
            actor=None,
            target_type="community",
            target_id=community.pk,
            community=community,
            detail={"buildings": len(missing)},
        )
    return len(missing)


@transaction.atomic(durable=True)
def resident_unmask(
    *, actor: User, resident: Resident, fields: Iterable[str] = ("id_number", "phone")
) -> dict[str, str]:
    """Reveal one resident's sensitive fields and write who did it to the audit log (not the values).

    Only the fields the actor may reveal (``permissions.can_unmask``) are returned; the caller
    refuses when there are none."""
    names = [f for f in fields if can_unmask(actor, resident.community_id, field=f)]
    audit_record(
        action=AuditAction.RESIDENT_UNMASK,
        actor=actor,
        target_type="resident",
        target_id=resident.pk,
        community_id=resident.community_id,
        detail={"fields": names},
    )
    return {name: getattr(resident, name) for name in names}


# Where a call was opened from (the audit row says it; anything else is "other").
CALL_PLACES = frozenset({"order", "not_reported", "retests", "checkins", "missing"})


@transaction.atomic(durable=True)
def resident_call(*, actor: User, resident: Resident, where: str = "") -> str:
    """The number to dial for ``resident``, audited like an unmasking (who, whom, from which list;
    never the number). The caller has checked the actor may call (``selectors.resident_to_call``)
    and hands the number to the phone's dialler only: no page shows it. "" if none is registered
    (nothing is audited then: nothing was revealed)."""
    if not resident.phone:
        return ""
    audit_record(
        action=AuditAction.RESIDENT_CALL,
        actor=actor,
        target_type="resident",
        target_id=resident.pk,
        community_id=resident.community_id,
        detail={"from": where if where in CALL_PLACES else "other"},
    )
    return resident.phone


@transaction.atomic(durable=True)
def resident_transfer_decide(*, transfer_id: int, actor: User, approve: bool) -> ResidentTransfer:
    """The subdistrict's answer to a roster that names a person registered elsewhere: approve (the
    resident moves to the receiving community's room, created if new) or decline. Idempotent: a
    request already decided is returned as it is."""
    transfer = (
        ResidentTransfer.objects.select_for_update()
        .select_related("from_community", "to_community", "resident")
        .filter(pk=transfer_id)
        .first()
    )
    if transfer is None or not can_decide_transfer(actor, transfer.from_community.subdistrict_id):
        raise RegistryError("迁移申请不存在", "no such transfer request")
    if transfer.status != TransferStatus.PENDING:
        return transfer
    resident = transfer.resident
    if approve:
        if resident.community_id != transfer.from_community_id:
            raise RegistryError("此人已不在原社区，申请已失效", "the person has already moved; the request is void")
        to = transfer.to_community
        compound, _ = Compound.objects.get_or_create(community=to, name=transfer.compound or to.name)
        building, _ = Building.objects.get_or_create(
            compound=compound,
            number=transfer.building,
            defaults={"community": to, "sort_key": nz.building_sort_key(transfer.building)},
        )
        household, _ = Household.objects.get_or_create(building=building, room=transfer.room)
        resident.community = to
        resident.household = household
        resident.save(update_fields=["community", "household"])
    transfer.status = TransferStatus.APPROVED if approve else TransferStatus.DECLINED
    transfer.decided_by = actor
    transfer.decided_at = timezone.now()
    transfer.save(update_fields=["status", "decided_by", "decided_at"])
    audit_record(
        action=AuditAction.RESIDENT_TRANSFER_APPROVE if approve else AuditAction.RESIDENT_TRANSFER_DECLINE,
        actor=actor,
        target_type="resident",
        target_id=resident.pk,
        community_id=transfer.from_community_id,
        detail={"transfer": transfer.pk, "from": transfer.from_community_id, "to": transfer.to_community_id},
    )
    return transfer


# --------------------------------------------------------------------------------------------------
# The kept counts (CommunityCount): checked against a fresh count, rebuilt on demand


@dataclass(frozen=True)
class CountMismatch:
    community_id: int
    code: str
    kept_residents: int | None  # None: no row kept
    kept_households: int | None
    residents: int
    households: int


# The same statement as migration 0010's fill: one row per community, from a fresh count.
_COUNTS_FILL = """
INSERT INTO registry_communitycount (community_id, residents, households)
SELECT c.id,
  (SELECT COUNT(*) FROM registry_resident r WHERE r.community_id = c.id),
  (SELECT COUNT(*) FROM registry_household h JOIN registry_building b ON b.id = h.building_id
   WHERE b.community_id = c.id)
FROM registry_community c
"""


def community_counts_check() -> list[CountMismatch]:
    """Every community whose kept counts differ from a fresh count (empty: all agree). A missing
    row agrees with a community that has no residents and no households."""
    kept = {c.community_id: c for c in CommunityCount.objects.all()}
    residents = dict(Resident.objects.order_by().values_list("community_id").annotate(n=Count("id")))
    households = dict(Household.objects.order_by().values_list("building__community_id").annotate(n=Count("id")))
    communities = Community.objects.order_by("pk").only("pk", "code")
    out = []
    for c in communities:
        row = kept.get(c.pk)
        have = (row.residents, row.households) if row else (0, 0)
        fresh = (residents.get(c.pk, 0), households.get(c.pk, 0))
        if have != fresh:
            out.append(
                CountMismatch(
                    c.pk,
                    c.code,
                    row.residents if row else None,
                    row.households if row else None,
                    *fresh,
                )
            )
    return out


@transaction.atomic
def community_counts_repair(*, actor: User | None = None) -> list[CountMismatch]:
    """Rebuild the kept counts from a fresh count (the triggers keep them; this is for a database
    whose triggers were off, or restored without them). Returns what differed before. On
    PostgreSQL the registry's tables are locked against writers (SHARE) until the rebuild commits,
    so no write falls between the count and the rows."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("LOCK TABLE registry_resident, registry_household, registry_building IN SHARE MODE")
    before = community_counts_check()
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM registry_communitycount")
        cursor.execute(_COUNTS_FILL)
    audit_record(
        action=AuditAction.COUNTS_REPAIR,
        actor=actor,
        target_type="community_count",
        target_id="all",
        detail={"differed": [m.code for m in before]},
    )
    return before
