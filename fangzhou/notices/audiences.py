"""Who a notice goes to, derived from the system's own state (never a typed phone list).

Each audience kind turns its parameters into the households (residents) or volunteers it reaches,
in one query of ids, always inside the notice's community. A parameter naming a record of another
community reaches nobody.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from fangzhou.lib.bulk import LOOKUP_CHUNK
from fangzhou.lib.importing import chunks
from fangzhou.registry.models import Community, Household, Resident
from fangzhou.supplies.models import Delivery
from fangzhou.testing.models import AntigenReport, Retest, Sample
from fangzhou.volunteers.models import ShiftAssignment, Volunteer, VolunteerStatus
from fangzhou.zones.models import MicroZone


class AudienceError(ValueError):
    """The audience's parameters cannot be read (shown to staff as a form error)."""


@dataclass(frozen=True)
class Audience:
    household_ids: list[int] = field(default_factory=list)
    volunteer_ids: list[int] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.household_ids) + len(self.volunteer_ids)


LABELS: dict[str, Any] = {
    "building": _("Households of buildings"),
    "microzone": _("Households of a micro sealed zone"),
    "tube": _("Households with a sample in a tube"),
    "retest": _("Households on the re-test list"),
    "not_reported": _("Households that have not reported today"),
    "distribution": _("Doors of a distribution"),
    "household": _("One household"),
    "resident": _("One resident's household"),
    "work_group": _("Volunteers of a work group"),
    "shift": _("Volunteers of a shift"),
}


def _ids(args: dict[str, Any], name: str) -> list[int]:
    raw = args.get(name)
    values = raw if isinstance(raw, list) else [raw]
    try:
        ids = [int(value) for value in values if value not in (None, "")]
    except (TypeError, ValueError) as exc:
        raise AudienceError(name) from exc
    if not ids:
        raise AudienceError(name)
    return ids


def _households(query: QuerySet[Household]) -> list[int]:
    # Only households with someone living there (an empty room is nobody to tell).
    return sorted(set(query.filter(residents__isnull=False).values_list("pk", flat=True)))


def _in(community: Community) -> QuerySet[Household]:
    return Household.objects.filter(building__community=community)


def _building(community: Community, args: dict[str, Any]) -> Audience:
    return Audience(_households(_in(community).filter(building_id__in=_ids(args, "building_ids"))))


def _microzone(community: Community, args: dict[str, Any]) -> Audience:
    buildings = MicroZone.buildings.through.objects.filter(
        microzone_id__in=_ids(args, "microzone_id"), microzone__community=community
    ).values("building_id")
    return Audience(_households(_in(community).filter(building_id__in=buildings)))


def _tube(community: Community, args: dict[str, Any]) -> Audience:
    residents = Sample.objects.filter(tube_id__in=_ids(args, "tube_id"), round__community=community).values(
        "resident__household_id"
    )
    return Audience(_households(_in(community).filter(pk__in=residents)))


def _retest(community: Community, args: dict[str, Any]) -> Audience:
    pending = Retest.objects.filter(community=community, status=Retest.Status.PENDING).values("resident__household_id")
    return Audience(_households(_in(community).filter(pk__in=pending)))


def _not_reported(community: Community, args: dict[str, Any]) -> Audience:
    try:
        day = dt.date.fromisoformat(str(args.get("day", "")))
    except ValueError as exc:
        raise AudienceError("day") from exc
    reported = AntigenReport.objects.filter(day=day, resident__community=community).values("resident_id")
    missing = Resident.objects.filter(community=community).exclude(pk__in=reported).values("household_id")
    return Audience(_households(_in(community).filter(pk__in=missing)))


def _distribution(community: Community, args: dict[str, Any]) -> Audience:
    doors = Delivery.objects.filter(
        distribution_id__in=_ids(args, "distribution_id"), distribution__community=community
    ).values("household_id")
    return Audience(_households(_in(community).filter(pk__in=doors)))


def _household(community: Community, args: dict[str, Any]) -> Audience:
    return Audience(_households(_in(community).filter(pk__in=_ids(args, "household_id"))))


def _resident(community: Community, args: dict[str, Any]) -> Audience:
    homes = Resident.objects.filter(pk__in=_ids(args, "resident_id"), community=community).values("household_id")
    return Audience(_households(_in(community).filter(pk__in=homes)))


def _volunteers(query: QuerySet[Volunteer]) -> list[int]:
    return sorted(set(query.filter(status=VolunteerStatus.APPROVED).values_list("pk", flat=True)))


def _work_group(community: Community, args: dict[str, Any]) -> Audience:
    members = Volunteer.objects.filter(community=community, groups__in=_ids(args, "group_id"))
    return Audience(volunteer_ids=_volunteers(members))


def _shift(community: Community, args: dict[str, Any]) -> Audience:
    assigned = ShiftAssignment.objects.filter(shift_id__in=_ids(args, "shift_id"), shift__community=community)
    if args.get("volunteer_id"):  # one volunteer's new place on the shift
        assigned = assigned.filter(volunteer_id__in=_ids(args, "volunteer_id"))
    return Audience(
        volunteer_ids=_volunteers(Volunteer.objects.filter(community=community, pk__in=assigned.values("volunteer_id")))
    )


RESOLVERS: dict[str, Callable[[Community, dict[str, Any]], Audience]] = {
    "building": _building,
    "microzone": _microzone,
    "tube": _tube,
    "retest": _retest,
    "not_reported": _not_reported,
    "distribution": _distribution,
    "household": _household,
    "resident": _resident,
    "work_group": _work_group,
    "shift": _shift,
}


def audience_resolve(community: Community, kind: str, args: dict[str, Any]) -> Audience:
    """The households and volunteers an audience reaches now (``AudienceError`` if unreadable)."""
    resolver = RESOLVERS.get(kind)
    if resolver is None:
        raise AudienceError(kind)
    return resolver(community, args)


def _tube_many(community: Community, args_list: Sequence[dict[str, Any]]) -> list[Audience]:
    """:func:`_tube` for many audiences in one query: every (tube, household) pair of the tubes
    named, then each audience the households of its own tubes (a sampled resident's household is
    lived in, so the households with someone living there are these)."""
    wanted = [_ids(args, "tube_id") for args in args_list]
    tube_ids = sorted({tube_id for ids in wanted for tube_id in ids})
    homes: dict[int, set[int]] = defaultdict(set)
    for batch in chunks(tube_ids, LOOKUP_CHUNK):
        pairs = Sample.objects.filter(
            tube_id__any_of=batch,
            round__community=community,
            resident__household__building__community=community,
        ).values_list("tube_id", "resident__household_id")
        for tube_id, household_id in pairs.distinct():
            homes[tube_id].add(household_id)
    return [Audience(sorted(set().union(*(homes.get(t, set()) for t in ids)))) for ids in wanted]


# Audiences with a resolver for many at once (one query whatever their number).
MANY_RESOLVERS: dict[str, Callable[[Community, Sequence[dict[str, Any]]], list[Audience]]] = {
    "tube": _tube_many,
}


def audiences_resolve_many(community: Community, kind: str, args_list: Sequence[dict[str, Any]]) -> list[Audience]:
    """:func:`audience_resolve` for each of ``args_list``, in that order: in one query for the kinds
    of :data:`MANY_RESOLVERS`, one audience at a time for the others."""
    if kind not in RESOLVERS:
        raise AudienceError(kind)
    many = MANY_RESOLVERS.get(kind)
    if many is not None:
        return many(community, args_list)
    return [audience_resolve(community, kind, args) for args in args_list]


def audience_label(kind: str) -> str:
    return str(LABELS.get(kind, kind))
