"""Reads for testing, always scoped to what the user may see."""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth.models import AnonymousUser
from django.core import signing
from django.db import connection
from django.db.models import Count, Exists, Max, Min, OuterRef, Q, QuerySet, Sum

from fangzhou.accounts.models import User
from fangzhou.accounts.permissions import TokenPlace, can_manage_community, token_community_q
from fangzhou.cases.hooks import ResidentAction
from fangzhou.cases.models import Case
from fangzhou.cases.selectors import residents_exempt_from_testing
from fangzhou.lib.fastsql import hot_cursor
from fangzhou.registry import selectors as registry
from fangzhou.registry.models import Building, Community, Household, Resident, SpecialCare
from fangzhou.registry.roster import normalize as nz
from fangzhou.registry.roster.normalize import room_stair_key
from fangzhou.testing import pooling
from fangzhou.testing.models import (
    AntigenReport,
    AntigenResult,
    AntigenSubmission,
    BuildingSlot,
    KitHandout,
    LabResult,
    Result,
    Retest,
    Round,
    Sample,
    Tube,
)
from fangzhou.workorders.models import WorkOrder
from fangzhou.zones.selectors import sealed_building_ids, sealed_buildings
from fangzhou.zones.sitegraph import walk_order

QR_SALT = "fangzhou.testing.resident-qr"
DOOR_SPECIAL = {SpecialCare.LIMITED_MOBILITY, SpecialCare.BEDRIDDEN, SpecialCare.DISABLED}


def rounds_visible(user: User | AnonymousUser) -> QuerySet[Round]:
    return Round.objects.filter(community__in=registry.communities_visible(user).values("pk"))


def round_get(user: User | AnonymousUser, round_id: int) -> Round | None:
    return rounds_visible(user).select_related("community").filter(pk=round_id).first()


def round_for_token(token: TokenPlace, round_id: int) -> Round | None:
    """A round of one of an API key's communities (a lab's, the sampling app's), else None."""
    return Round.objects.filter(token_community_q(token, "community"), pk=round_id).select_related("community").first()


def tube_get(user: User | AnonymousUser, tube_id: int) -> Tube | None:
    return (
        Tube.objects.filter(round__in=rounds_visible(user).values("pk"))
        .select_related("round")
        .filter(pk=tube_id)
        .first()
    )


def exempt_resident_ids(rnd: Round) -> set[int]:
    """Not counted as missing: in isolation or post-discharge (cases), or already pending re-test."""
    exempt = residents_exempt_from_testing(rnd.community, rnd.date)
    exempt |= set(
        Retest.objects.filter(community_id=rnd.community_id, status=Retest.Status.PENDING).values_list(
            "resident_id", flat=True
        )
    )
    return exempt


# --------------------------------------------------------------------------------------------------
# Live counts, missing list, coverage


@dataclass
class Count3:
    name: str
    id: int = 0
    expected: int = 0
    sampled: int = 0
    exempt: int = 0
    residents: int = 0

    @property
    def missing(self) -> int:
        return max(self.expected - self.sampled, 0)

    @property
    def rate(self) -> float:
        return self.sampled / self.expected if self.expected else 1.0


@dataclass
class RoundCounts:
    buildings: list[Count3]
    grids: list[Count3]
    total: Count3


def round_counts(user: User | AnonymousUser, rnd: Round) -> RoundCounts:
    """Sampled / expected / missing per building and grid (only the buildings the user sees)."""
    buildings = list(
        registry.buildings_visible(user)
        .filter(community_id=rnd.community_id)
        .select_related("grid", "compound")
        .order_by("compound_id", "sort_key", "number")
    )
    ids = [b.pk for b in buildings]
    exempt = exempt_resident_ids(rnd)
    sampled = set(Sample.objects.filter(round=rnd).values_list("resident_id", flat=True))
    rows: dict[int, Count3] = {b.pk: Count3(name=f"{b.compound.name} {b.label}", id=b.pk) for b in buildings}
    for resident_id, building_id in Resident.objects.filter(household__building_id__in=ids).values_list(
        "id", "household__building_id"
    ):
        row = rows[building_id]
        row.residents += 1
        if resident_id in sampled:
            row.sampled += 1
            row.expected += 1
        elif resident_id in exempt:
            row.exempt += 1
        else:
            row.expected += 1
    grids: dict[str, Count3] = {}
    total = Count3(name="total")
    for b in buildings:
        row = rows[b.pk]
        grid = grids.setdefault(b.grid.name if b.grid else "—", Count3(name=b.grid.name if b.grid else "—"))
        for bucket in (grid, total):
            bucket.expected += row.expected
            bucket.sampled += row.sampled
            bucket.exempt += row.exempt
            bucket.residents += row.residents
    return RoundCounts(list(rows.values()), sorted(grids.values(), key=lambda g: nz.label_order_key(g.name)), total)


def missing_residents(user: User | AnonymousUser, rnd: Round, building_id: int | None = None) -> list[Resident]:
    """Residents expected but not sampled (漏检), in the buildings the user sees."""
    exempt = exempt_resident_ids(rnd)
    qs = (
        registry.residents_visible(user)
        .filter(community_id=rnd.community_id)
        .exclude(pk__in=Sample.objects.filter(round=rnd).values("resident_id"))
        .select_related("household__building__compound")
        .order_by("household__building__compound_id", "household__building__sort_key", "household__room", "id")
    )
    if building_id is not None:
        qs = qs.filter(household__building_id=building_id)
    return [r for r in qs if r.pk not in exempt]


@dataclass
class Coverage:
    residents: int
    in_buildings_counted: int
    without_grid: list[Building]
    residents_without_grid: int
    buildings_without_slot: list[Building]

    @property
    def complete(self) -> bool:
        return self.residents == self.in_buildings_counted


def coverage_check(rnd: Round) -> Coverage:
    """Check against the registry: no resident is forgotten by the counts or the schedule."""
    community_residents = Resident.objects.filter(community_id=rnd.community_id)
    counted = Resident.objects.filter(household__building__community_id=rnd.community_id).count()
    buildings = list(Building.objects.filter(community_id=rnd.community_id).select_related("compound"))
    slotted = set(BuildingSlot.objects.filter(round=rnd).values_list("building_id", flat=True))
    no_grid = [b for b in buildings if b.grid_id is None]
    return Coverage(
        residents=community_residents.count(),
        in_buildings_counted=counted,
        without_grid=no_grid,
        residents_without_grid=community_residents.filter(household__building__grid__isnull=True).count(),
        buildings_without_slot=[b for b in buildings if b.pk not in slotted] if slotted else [],
    )


def round_schedule_rows(user: User | AnonymousUser, rnd: Round) -> list[BuildingSlot]:
    return list(
        BuildingSlot.objects.filter(round=rnd, building__in=registry.buildings_visible(user).values("pk"))
        .select_related("building__compound", "site")
        .order_by("starts_at", "site_id")
    )


def round_tubes(rnd: Round, limit: int = 200) -> list[Tube]:
    return list(
        Tube.objects.filter(round=rnd)
        .select_related("lab_result", "site")
        .prefetch_related("samples")
        .order_by("-id")[:limit]
    )


def retests_visible(user: User | AnonymousUser, community: Community, *, pending_only: bool = True) -> list[Retest]:
    qs = Retest.objects.filter(
        community=community, resident__household__building__in=registry.buildings_visible(user).values("pk")
    ).select_related("resident__household__building__compound", "source_tube", "work_order")
    if pending_only:
        qs = qs.filter(status=Retest.Status.PENDING)
    return list(qs.order_by("resident__household__building__sort_key", "resident__household__room"))


def retest_get(user: User | AnonymousUser, retest_id: int) -> Retest | None:
    """One re-test the user may see (its resident's building is in their scope)."""
    return (
        Retest.objects.filter(
            pk=retest_id, resident__household__building__in=registry.buildings_visible(user).values("pk")
        )
        .select_related("resident__household__building__compound", "source_tube__lab_result", "work_order")
        .first()
    )


def pending_retest_of(user: User | AnonymousUser, resident: Resident) -> Retest | None:
    """The resident's pending re-test, if the user may see it."""
    return (
        Retest.objects.filter(
            resident=resident,
            status=Retest.Status.PENDING,
            resident__household__building__in=registry.buildings_visible(user).values("pk"),
        )
        .select_related("source_tube")
        .first()
    )


def retest_resident_action(user: User, resident: Resident) -> ResidentAction | None:
    """On a resident's page: their pending re-test and the one-step "confirm the case", for the
    committee that may confirm it (the cases app's hook)."""
    if not can_manage_community(user, resident.community_id):
        return None
    retest = pending_retest_of(user, resident)
    if retest is None:
        return None
    return ResidentAction("testing/_resident_retest.html", {"retest": retest}, order=10)


# --------------------------------------------------------------------------------------------------
# Sampling desk


def resident_qr_payload(resident_id: int) -> str:
    """What a resident's personal QR code carries: a signed id (not guessable, not personal)."""
    return "FZR:" + signing.Signer(salt=QR_SALT).sign(str(resident_id))


def resident_from_qr(payload: str) -> int | None:
    if not payload.startswith("FZR:"):
        return None
    try:
        return int(signing.Signer(salt=QR_SALT).unsign(payload[4:]))
    except (signing.BadSignature, ValueError):
        return None


@dataclass
class DeskRow:
    resident: Resident
    tube_code: str = ""
    pending_retest: bool = False
    household_open: list[Resident] = field(default_factory=list)  # members still to sample
    # The building is sealed on the round's date: sampled at the door, never pooled at a site.
    sealed: bool = False
    sealed_zone: str = ""  # the micro sealed zone's name, "" when the whole compound is sealed
    retest_order_id: int | None = None  # the door-to-door re-test order, when one is open


def desk_search(user: User | AnonymousUser, rnd: Round, query: str) -> list[DeskRow]:
    """Residents matching a name, room, last phone digits or a scanned QR code, with their status."""
    query = query.strip()[:80]
    resident_id = resident_from_qr(query)
    if resident_id is not None:
        found = list(
            registry.residents_visible(user)
            .filter(pk=resident_id, community_id=rnd.community_id)
            .select_related("household__building__compound")
        )
    else:
        community = Community(pk=rnd.community_id)
        found = registry.resident_search(user, query, community=community, limit=30)
    if not found:
        return []
    household_ids = {r.household_id for r in found}
    members: dict[int, list[Resident]] = defaultdict(list)
    for member in Resident.objects.filter(household_id__in=household_ids).order_by("id"):
        members[member.household_id].append(member)
    all_ids = [m.pk for ms in members.values() for m in ms]
    tubes = dict(Sample.objects.filter(round=rnd, resident_id__in=all_ids).values_list("resident_id", "tube__code"))
    pending = dict(
        Retest.objects.filter(resident_id__in=all_ids, status=Retest.Status.PENDING).values_list(
            "resident_id", "work_order_id"
        )
    )
    sealed = sealed_buildings(Community.objects.get(pk=rnd.community_id), rnd.date)
    rows = []
    for r in found:
        zone = sealed.get(r.household.building_id)
        rows.append(
            DeskRow(
                resident=r,
                tube_code=tubes.get(r.pk, "") if r.pk not in pending else "",
                pending_retest=r.pk in pending,
                household_open=[m for m in members[r.household_id] if m.pk not in tubes and m.pk not in pending],
                sealed=zone is not None,
                sealed_zone=(zone.zone or "") if zone is not None else "",
                retest_order_id=pending.get(r.pk),
            )
        )
    return rows


def open_tube(rnd: Round, station: str) -> Tube | None:
    return (
        Tube.objects.filter(round=rnd, station=station, status=Tube.Status.OPEN)
        .prefetch_related("samples__resident")
        .first()
    )


# --------------------------------------------------------------------------------------------------
# Door-to-door lists


@dataclass
class DoorStop:
    resident: Resident
    why: str  # "retest", "sealed" (the building is sealed: nobody comes down) or "mobility"


@dataclass
class DoorList:
    building: Building
    order: int
    stops: list[DoorStop]


def door_lists(user: User | AnonymousUser, rnd: Round, *, time_limit_s: float = 0.5) -> list[DoorList]:
    """Per building, who is sampled at their door, in the walking order of the sampling team.

    At the door: everyone pending a single-tube re-test, everyone in a sealed building (on the
    round's date), and residents who cannot walk down (limited mobility, bedridden, disabled).
    The buildings are ordered by the routing core over the site plan's roads, from a gate.
    """
    sealed = sealed_building_ids(Community.objects.get(pk=rnd.community_id), rnd.date)
    pending = set(
        Retest.objects.filter(community_id=rnd.community_id, status=Retest.Status.PENDING).values_list(
            "resident_id", flat=True
        )
    )
    special = Q()
    for code in DOOR_SPECIAL:
        special |= Q(special__contains=code)
    done = set(Sample.objects.filter(round=rnd).values_list("resident_id", "kind"))
    residents = (
        registry.residents_visible(user)
        .filter(community_id=rnd.community_id)
        .filter(Q(pk__in=pending) | special | Q(household__building_id__in=sealed))
        .select_related("household__building__compound")
    )
    by_building: dict[int, list[DoorStop]] = defaultdict(list)
    buildings: dict[int, Building] = {}
    for r in residents:
        if r.pk in pending:
            if (r.pk, "single") in done:
                continue
            why = "retest"
        else:
            if (r.pk, "pooled") in done:
                continue
            why = "sealed" if r.household.building_id in sealed else "mobility"
        building = r.household.building
        buildings[building.pk] = building
        by_building[building.pk].append(DoorStop(r, why))
    ordered = sorted(buildings.values(), key=lambda b: (b.sort_key, b.pk))
    community = Community.objects.get(pk=rnd.community_id)
    walk = walk_order(community, ordered, time_limit_s=time_limit_s)
    order = [b.pk for b in walk if isinstance(b, Building)]
    lists = []
    for n, building_id in enumerate(order, start=1):
        stops = sorted(
            by_building[building_id], key=lambda s: (room_stair_key(s.resident.household.room), s.resident.pk)
        )
        lists.append(DoorList(buildings[building_id], n, stops))
    return lists


# --------------------------------------------------------------------------------------------------
# Antigen


def _room(room: str, phone_last4: str) -> str | None:
    """The room as residents type it (spaces and a trailing 室 dropped), or None if the room or the
    four phone digits are not usable."""
    room = re.sub(r"\s+", "", room or "").removesuffix("室")
    if not re.fullmatch(r"\d{4}", phone_last4 or "") or not room:
        return None
    return room


def _identified(building_pk: Any, room: str, phone_last4: str) -> QuerySet[Household]:
    """Households of the building with this room and a member whose phone ends in the 4 digits."""
    return Household.objects.filter(
        Exists(Resident.objects.filter(household_id=OuterRef("pk"), phone__endswith=phone_last4)),
        building_id=building_pk,
        room=room,
    )


def household_identify(building: Building, room: str, phone_last4: str) -> Household | None:
    """The household of a public page: the room in this building plus the last 4 digits of a phone."""
    clean = _room(room, phone_last4)
    if clean is None:
        return None
    return _identified(building.pk, clean, phone_last4).first()


@functools.cache
def _public_household_sql(vendor: str, identify: bool) -> str:
    """The statement of :func:`public_household`, built once from the models' tables and columns
    (the ORM spent more time compiling its Subquery than PostgreSQL spent running it)."""
    q = connection.ops.quote_name

    def c(model: Any, name: str) -> str:
        return f"{q(model._meta.db_table)}.{q(model._meta.get_field(name).column)}"

    b, h, r = (q(m._meta.db_table) for m in (Building, Household, Resident))
    columns = ", ".join(f"{b}.{q(str(f.column))}" for f in Building._meta.concrete_fields)
    household = (
        f"(SELECT {c(Household, 'id')} FROM {h} WHERE {c(Household, 'building')} = {c(Building, 'id')}"  # noqa: S608 - names from _meta
        f" AND {c(Household, 'room')} = %s AND EXISTS (SELECT 1 FROM {r}"
        f" WHERE {c(Resident, 'household')} = {c(Household, 'id')} AND {c(Resident, 'phone')} LIKE %s) LIMIT 1)"
        if identify
        else "NULL"
    )
    token = c(Building, "public_token")
    return f"SELECT {columns}, {household} FROM {b} WHERE {token} = %s ORDER BY {c(Building, 'id')} LIMIT 1"  # noqa: S608 - names from _meta


def public_household(token: str, room: str, phone_last4: str) -> tuple[Building | None, Household | None]:
    """The building behind a public QR link and the household identified by room and phone digits
    (:func:`household_identify`: the room in this building with a member whose phone ends in the
    digits), in one statement. (None, None) for an unknown token. The building comes without its
    compound and community (the submit needs neither)."""
    if not token or len(token) < 16:  # as registry.buildings_by_token
        return None, None
    clean = _room(room, phone_last4)
    sql = _public_household_sql(connection.vendor, clean is not None)
    # ``phone_last4`` is four digits here (``_room``), so the pattern needs no escaping.
    params = [clean, f"%{phone_last4}", token] if clean is not None else [token]
    with hot_cursor(connection) as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        return None, None
    names = [f.attname for f in Building._meta.concrete_fields]
    building = Building.from_db(connection.alias, names, row[:-1])
    household_pk = row[-1]
    if household_pk is None:
        return building, None
    household = Household(pk=household_pk, building=building, room=clean or "")
    household._state.adding = False  # the row exists: it was just read
    household._state.db = connection.alias
    return building, household


def antigen_retest_cause(day: dt.date) -> str:
    """The cause of an antigen re-test opened for a day (its order's source key is
    ``retest:<this>:<resident>``)."""
    return f"antigen:{day.isoformat()}"


@dataclass(frozen=True)
class AntigenRead:
    """What a household's antigen submission must know before it writes, read in one statement."""

    members: dict[int, int]  # resident -> the community of the household's building
    existing: tuple[int, int] | None  # (submission, its household) already stored under the client id
    pending: frozenset[int]  # members pending an antigen re-test opened for the day


def _antigen_read_branches(q: Any, household: str, community: str, pad: str, join: str) -> str:
    """The members (with ``community``), the submission with the client id, and today's pending
    antigen re-tests of the household ``household`` (a column or a placeholder; ``join`` is what
    the members' rows join to, ``pad`` fills the columns the first branch of a lookup adds)."""

    def t(model: Any) -> str:
        return str(q(model._meta.db_table))

    def c(model: Any, name: str, alias: str = "") -> str:
        return f"{alias or t(model)}.{q(model._meta.get_field(name).column)}"

    r, s, rt, w = (t(m) for m in (Resident, AntigenSubmission, Retest, WorkOrder))
    return (
        f"SELECT 'r', {c(Resident, 'id')}, {community}{pad} FROM {r}{join}"  # noqa: S608 - names from _meta
        f" WHERE {c(Resident, 'household')} = {household}"
        f" UNION ALL SELECT 's', {c(AntigenSubmission, 'id')}, {c(AntigenSubmission, 'household')}{pad} FROM {s}"
        f" WHERE {c(AntigenSubmission, 'client_id')} = %s"
        f" UNION ALL SELECT 't', {c(Retest, 'resident')}, {c(Retest, 'id')}{pad} FROM {rt}"
        f" INNER JOIN {r} m ON {c(Resident, 'id', 'm')} = {c(Retest, 'resident')}"
        f" INNER JOIN {w} ON {c(WorkOrder, 'id')} = {c(Retest, 'work_order')}"
        f" WHERE {c(Resident, 'household', 'm')} = {household} AND {c(Retest, 'status')} = %s"
        f" AND {c(Retest, 'reason')} = %s AND {c(WorkOrder, 'source_key')} LIKE %s"
    )


def _antigen_read_params(client_id: str, day: dt.date) -> list[Any]:
    # The cause is a date and colons: nothing to escape in the LIKE pattern.
    cause = f"retest:{antigen_retest_cause(day)}:%"
    return [client_id, Retest.Status.PENDING.value, Retest.Reason.ANTIGEN.value, cause]


def _antigen_read_rows(rows: Sequence[Sequence[Any]]) -> AntigenRead:
    members: dict[int, int] = {}
    existing: tuple[int, int] | None = None
    pending: set[int] = set()
    for kind, pk, other, *_ in rows:
        if kind == "s":
            existing = (pk, other)
        elif kind == "t":
            pending.add(pk)
        elif kind == "r":
            members[pk] = other
    return AntigenRead(members, existing, frozenset(pending))


@functools.cache
def _antigen_read_sql(vendor: str) -> str:
    q = connection.ops.quote_name

    def c(model: Any, name: str) -> str:
        return f"{q(model._meta.db_table)}.{q(model._meta.get_field(name).column)}"

    h, b = (q(m._meta.db_table) for m in (Household, Building))
    hid, hbuilding = c(Household, "id"), c(Household, "building")
    bid, community = c(Building, "id"), c(Building, "community")
    household = c(Resident, "household")
    join = f" INNER JOIN {h} ON {hid} = {household} INNER JOIN {b} ON {bid} = {hbuilding}"
    return _antigen_read_branches(q, "%s", community, "", join)


def antigen_read(*, household_pk: int, client_id: str, day: dt.date) -> AntigenRead:
    """The members of a household, a submission already stored under ``client_id``, and the
    members pending an antigen re-test opened for ``day``: one statement."""
    client, *retests = _antigen_read_params(client_id, day)
    with connection.cursor() as cursor:
        cursor.execute(_antigen_read_sql(connection.vendor), [household_pk, client, household_pk, *retests])
        return _antigen_read_rows(cursor.fetchall())


@functools.cache
def _public_antigen_sql(vendor: str) -> str:
    """The statement of :func:`public_antigen_lookup`: the building by its token (``b``), the
    household by room and phone digits (``h``), and :func:`antigen_read`'s rows for it, as one
    ``UNION ALL`` whose first row is the building's."""
    q = connection.ops.quote_name

    def c(model: Any, name: str, alias: str = "") -> str:
        return f"{alias or q(model._meta.db_table)}.{q(model._meta.get_field(name).column)}"

    b, h, r = (q(m._meta.db_table) for m in (Building, Household, Resident))
    names = [q(str(f.column)) for f in Building._meta.concrete_fields if f.name in ("id", "community")]
    household = f"(SELECT {q('id')} FROM h)"  # noqa: S608 - a name from _meta
    return (
        f"WITH b AS (SELECT {', '.join(f'{b}.{n}' for n in names)} FROM {b}"  # noqa: S608 - names from _meta
        f" WHERE {c(Building, 'public_token')} = %s ORDER BY {c(Building, 'id')} LIMIT 1),"
        f" h AS (SELECT {c(Household, 'id')} AS {q('id')} FROM {h} INNER JOIN b ON {c(Household, 'building')} ="
        f" {c(Building, 'id', 'b')} WHERE {c(Household, 'room')} = %s AND EXISTS"
        f" (SELECT 1 FROM {r} WHERE {c(Resident, 'household')} = {c(Household, 'id')}"
        f" AND {c(Resident, 'phone')} LIKE %s) LIMIT 1)"
        f" SELECT 'b', {household}, {c(Building, 'id', 'b')} FROM b"
        f" UNION ALL " + _antigen_read_branches(q, household, c(Building, "community", "b"), "", " CROSS JOIN b")
    )


@dataclass(frozen=True, slots=True)
class HouseholdKey:
    """A household the public page identified, as plain values: its key, its building's and the
    room as typed (cleaned). What the public antigen submit writes with; no model instance."""

    pk: int
    building_id: int
    room: str


def public_antigen_lookup(
    token: str, room: str, phone_last4: str, *, client_id: str, day: dt.date
) -> tuple[int | None, HouseholdKey | None, AntigenRead | None]:
    """:func:`public_household` and, for the household it finds, :func:`antigen_read`, in one
    statement: what the public antigen submit needs before it writes. The building's key (None
    for an unknown token), the household (None when room and digits match none) and the read."""
    clean = _room(room, phone_last4)
    if not token or len(token) < 16 or clean is None:
        building, household = public_household(token, room, phone_last4)
        key = HouseholdKey(household.pk, household.building_id, household.room) if household is not None else None
        return (building.pk if building is not None else None), key, None
    # ``phone_last4`` is four digits here (``_room``), so the pattern needs no escaping.
    params = [token, clean, f"%{phone_last4}", *_antigen_read_params(client_id, day)]
    with hot_cursor(connection) as cursor:
        cursor.execute(_public_antigen_sql(connection.vendor), params)
        rows = cursor.fetchall()
    head = next((row for row in rows if row[0] == "b"), None)
    if head is None:
        return None, None, None
    _kind, household_pk, building_pk = head
    if household_pk is None:
        return building_pk, None, None
    return building_pk, HouseholdKey(household_pk, building_pk, clean), _antigen_read_rows(rows)


CELL_STATES = ("positive", "negative", "partial", "none")


@dataclass
class HouseholdCell:
    id: int
    room: str
    members: int
    reported: int
    positive: int
    kits: int = 0

    @property
    def state(self) -> str:
        if self.positive:
            return "positive"
        if self.members and self.reported >= self.members:
            return "negative"
        if self.reported:
            return "partial"
        return "none"


@dataclass
class BuildingGrid:
    building: Building
    cells: list[HouseholdCell]

    @property
    def residents(self) -> int:
        return sum(c.members for c in self.cells)

    @property
    def reported(self) -> int:
        return sum(c.reported for c in self.cells)

    @property
    def rate(self) -> float:
        return self.reported / self.residents if self.residents else 0.0


@dataclass
class AntigenGlance:
    day: dt.date
    buildings: list[BuildingGrid]
    grids: list[dict[str, object]]
    residents: int
    reported: int
    positives: list[AntigenReport]

    @property
    def rate(self) -> float:
        return self.reported / self.residents if self.residents else 0.0


def antigen_glance(
    user: User | AnonymousUser, community: Community, day: dt.date, building_id: int | None = None
) -> AntigenGlance:
    """Household cells per building for a day, rates per building, grid and community, the positives.

    A fixed number of queries whatever the community's size.
    """
    buildings_qs = (
        registry.buildings_visible(user)
        .filter(community=community)
        .select_related("compound", "grid")
        .order_by("compound_id", "sort_key", "number")
    )
    if building_id is not None:
        buildings_qs = buildings_qs.filter(pk=building_id)
    buildings = list(buildings_qs)
    ids = [b.pk for b in buildings]
    cells: dict[int, HouseholdCell] = {}
    per_building: dict[int, list[HouseholdCell]] = defaultdict(list)
    households = Household.objects.filter(building_id__in=ids).order_by("room")
    for h in households.values("id", "room", "building_id"):
        cell = HouseholdCell(h["id"], h["room"], 0, 0, 0)
        cells[h["id"]] = cell
        per_building[h["building_id"]].append(cell)
    for household_id in Resident.objects.filter(household__building_id__in=ids).values_list("household_id", flat=True):
        cells[household_id].members += 1
    for household_id, result in (
        AntigenReport.objects.filter(day=day, household__building_id__in=ids)
        .exclude(result=AntigenResult.NOT_TESTED)
        .values_list("household_id", "result")
    ):
        found = cells.get(household_id)
        if found is None:
            continue
        found.reported += 1
        if result == AntigenResult.POSITIVE:
            found.positive += 1
    for household_id, kits in KitHandout.objects.filter(day=day, household__building_id__in=ids).values_list(
        "household_id", "kits"
    ):
        if household_id in cells:
            cells[household_id].kits = kits
    for cell_list in per_building.values():
        cell_list.sort(key=lambda c: room_stair_key(c.room))
    grid_rows: dict[str, dict[str, object]] = {}
    result_buildings = []
    for b in buildings:
        grid = BuildingGrid(b, per_building.get(b.pk, []))
        result_buildings.append(grid)
        name = b.grid.name if b.grid else "—"
        entry = grid_rows.setdefault(name, {"name": name, "residents": 0, "reported": 0})
        entry["residents"] = int(str(entry["residents"])) + grid.residents
        entry["reported"] = int(str(entry["reported"])) + grid.reported
    for entry in grid_rows.values():
        residents = int(str(entry["residents"]))
        entry["rate"] = int(str(entry["reported"])) / residents if residents else 0.0
    positives = list(
        AntigenReport.objects.filter(day=day, household__building_id__in=ids, result=AntigenResult.POSITIVE)
        .select_related("resident", "household__building__compound")
        .order_by("-reported_at")
    )
    return AntigenGlance(
        day=day,
        buildings=result_buildings,
        grids=sorted(grid_rows.values(), key=lambda g: nz.label_order_key(str(g["name"]))),
        residents=sum(b.residents for b in result_buildings),
        reported=sum(b.reported for b in result_buildings),
        positives=positives,
    )


def antigen_not_reported(user: User | AnonymousUser, building: Building, day: dt.date) -> list[Resident]:
    """Residents of a building without a result for the day (the building leader's chase list)."""
    reported = AntigenReport.objects.filter(day=day, household__building=building).exclude(
        result=AntigenResult.NOT_TESTED
    )
    return list(
        registry.residents_visible(user)
        .filter(household__building=building)
        .exclude(pk__in=reported.values("resident_id"))
        .select_related("household")
        .order_by("household__room", "id")
    )


def household_today(household: Household, day: dt.date) -> dict[int, tuple[str, dt.datetime]]:
    """Each member's antigen result reported for the day, with when it was reported."""
    return {
        resident_id: (result, at)
        for resident_id, result, at in AntigenReport.objects.filter(household=household, day=day).values_list(
            "resident_id", "result", "reported_at"
        )
    }


# --------------------------------------------------------------------------------------------------
# For other apps


def last_negative_test_at(resident_id: int) -> dt.datetime | None:
    """When the resident last tested negative, or None.

    The later of: the ``tested_at`` of the latest negative lab result of a tube (pooled or single)
    that holds a sample of the resident, and the ``reported_at`` of the latest negative antigen
    self-test report. Used by the volunteers' health gate. Not scoped: callers decide who may ask.
    """
    pcr = LabResult.objects.filter(result=Result.NEGATIVE, tube__samples__resident_id=resident_id).aggregate(
        at=Max("tested_at")
    )["at"]
    antigen = AntigenReport.objects.filter(resident_id=resident_id, result=AntigenResult.NEGATIVE).aggregate(
        at=Max("reported_at")
    )["at"]
    candidates = [t for t in (pcr, antigen) if t is not None]
    return max(candidates) if candidates else None


# --------------------------------------------------------------------------------------------------
# Pool planner: what to recommend for the next round


def recent_positivity(community: Community, on: dt.date, days: int = 7) -> dict[str, pooling.Positivity]:
    """Per building (id as text): people with a PCR result and confirmed cases in the last ``days``,
    plus antigen self-tests (tested, positive) over the same days."""
    since = on - dt.timedelta(days=days)
    observations: dict[str, pooling.Positivity] = {}

    def add(building_id: int, tested: int, positive: int) -> None:
        key = str(building_id)
        observations[key] = observations.get(key, pooling.Positivity(0.0, 0.0)) + pooling.Positivity(
            float(tested), float(min(positive, tested))
        )

    pcr = (
        Sample.objects.filter(round__community=community, round__date__gt=since, round__date__lte=on)
        .exclude(tube__lab_result=None)
        .values("resident__household__building_id")
        .annotate(n=Count("resident", distinct=True))
    )
    cases = dict(
        Case.objects.filter(community=community, report_date__gt=since, report_date__lte=on)
        .values_list("building_id")
        .annotate(n=Count("id"))
    )
    for row in pcr:
        add(row["resident__household__building_id"], row["n"], cases.get(row["resident__household__building_id"], 0))
    antigen = (
        AntigenReport.objects.filter(community=community, day__gt=since, day__lte=on)
        .exclude(result=AntigenResult.NOT_TESTED)
        .values("household__building_id")
        .annotate(n=Count("id"), pos=Count("id", filter=Q(result=AntigenResult.POSITIVE)))
    )
    for a_row in antigen:
        add(a_row["household__building_id"], a_row["n"], a_row["pos"])
    return observations


def pool_recommendation(community: Community, on: dt.date) -> pooling.PoolPlan[int] | None:
    """The planner's advice for the next round, beside the plain 10-in-1 default; None without data."""
    observations = recent_positivity(community, on)
    if not observations:
        return None
    estimate = pooling.estimate_prevalence(observations)
    households: list[pooling.Household[int]] = []
    current: dict[int, list[int]] = defaultdict(list)
    building_of: dict[int, int] = {}
    for resident_id, household_id, building_id in (
        Resident.objects.filter(community=community, household__building__community=community)  # scoped join
        .order_by("household__building__sort_key", "household__building_id", "household__room", "id")
        .values_list("id", "household_id", "household__building_id")
    ):
        current[household_id].append(resident_id)
        building_of[household_id] = building_id
    for household_id, members in current.items():
        households.append(pooling.Household(str(household_id), str(building_of[household_id]), tuple(members)))
    return pooling.plan_pools(households, estimate)


@dataclass
class KitBalance:
    """Antigen kits of one household: handed out so far, used by the results reported, left."""

    household_id: int
    room: str
    members: int
    handed: int
    used: int

    @property
    def left(self) -> int:
        return self.handed - self.used

    @property
    def state(self) -> str:
        if self.left < 0:
            return "over"  # more results than kits: kits from elsewhere, or a report to check
        if self.left < self.members:
            return "short"  # not enough for everyone's test tomorrow
        return "ok"


def kit_reconciliation(user: User | AnonymousUser, building: Building, upto: dt.date) -> list[KitBalance]:
    """Reconcile kits handed out with results reported, per household of a building, up to a day.

    A kit is used by each negative, positive or invalid result reported from the first hand-out on
    ("not tested" uses none). Three queries whatever the size of the building."""
    if not registry.buildings_visible(user).filter(pk=building.pk).exists():
        return []
    handed: dict[int, tuple[int, dt.date]] = {
        row["household_id"]: (int(row["kits"]), row["first"])
        for row in KitHandout.objects.filter(household__building=building, day__lte=upto)
        .values("household_id")
        .annotate(kits=Sum("kits"), first=Min("day"))
    }
    if not handed:
        return []
    used: dict[int, int] = defaultdict(int)
    earliest = min(first for _, first in handed.values())
    for household_id, day in (
        AntigenReport.objects.filter(household_id__in=list(handed), day__gte=earliest, day__lte=upto)
        .exclude(result=AntigenResult.NOT_TESTED)
        .values_list("household_id", "day")
    ):
        if day >= handed[household_id][1]:
            used[household_id] += 1
    households = (
        Household.objects.filter(pk__in=list(handed)).annotate(n=Count("residents")).values_list("pk", "room", "n")
    )
    rows = [KitBalance(pk, room, n, handed[pk][0], used[pk]) for pk, room, n in households]
    return sorted(rows, key=lambda r: room_stair_key(r.room))
