"""Reads for cases, scoped to what the user may see."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import ObjectDoesNotExist
from django.db.models import Count, Max, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext

from fangzhou.accounts.models import User
from fangzhou.accounts.permissions import building_q, is_committee
from fangzhou.cases.models import Case, CaseEvent, CloseContact, PcrResult, SiteKind, Source
from fangzhou.registry.addressing import building_label
from fangzhou.registry.models import Community, Resident, SpecialCare


def sees_case_people(user: User | AnonymousUser) -> bool:
    """Who the cases are: the committee roles; everyone else in scope (grid and building leaders) sees counts."""
    return is_committee(user)


def cases_visible(user: User | AnonymousUser) -> QuerySet[Case]:
    """Cases in the user's buildings (the building at report time)."""
    return Case.objects.filter(building_q(user, "building"))


def case_list(user: User | AnonymousUser, community: Community) -> list[Case]:
    if not sees_case_people(user):
        return []
    return list(
        cases_visible(user)
        .filter(community=community)
        .select_related("resident__household__building__compound", "building__compound")
        .order_by("-report_date", "id")
    )


def case_get(user: User | AnonymousUser, case_id: int) -> Case | None:
    if not sees_case_people(user):
        return None
    return (
        cases_visible(user)
        .select_related("resident__household__building__compound", "community", "building__compound")
        .filter(pk=case_id)
        .first()
    )


@dataclass
class BuildingCount:
    building_id: int
    compound: str
    building: str
    cases: int
    last_report: dt.date | None
    number: str = ""

    @property
    def full_label(self) -> str:
        return building_label(self.compound, self.number)


def case_counts_by_building(user: User | AnonymousUser, community: Community) -> list[BuildingCount]:
    """Cases per building as counts only (what a building leader may see)."""
    rows = (
        cases_visible(user)
        .filter(community=community)
        .values("building_id", "building__compound__name", "building__number")
        .annotate(n=Count("id"), last=Max("report_date"))
        .order_by("building__compound_id", "building__sort_key", "building__number")
    )
    return [
        BuildingCount(
            building_id=r["building_id"],
            compound=r["building__compound__name"],
            building=f"{r['building__number']}号楼",
            number=r["building__number"],
            cases=r["n"],
            last_report=r["last"],
        )
        for r in rows
    ]


def contacts_of(case: Case) -> list[CloseContact]:
    return list(CloseContact.objects.filter(case=case).select_related("resident"))


def pcr_results(case: Case) -> list[PcrResult]:
    return list(PcrResult.objects.filter(case=case))


@dataclass
class TimelineItem:
    on: dt.date
    at: str
    kind: str
    label: str
    detail: str


def _testing_items(resident: Resident) -> list[TimelineItem] | None:
    """Mass-test samples with their tube's lab result, and antigen self-tests, from the testing
    app; None if that app has no such models."""
    try:
        sample = apps.get_model("testing", "Sample")
        antigen = apps.get_model("testing", "AntigenReport")
    except LookupError:
        return None
    items: list[TimelineItem] = []
    for row in sample.objects.filter(resident=resident).select_related("tube").order_by("sampled_at")[:500]:
        try:
            lab = row.tube.lab_result
        except ObjectDoesNotExist:
            lab = None
        result = lab.get_result_display() if lab is not None else gettext("result pending")
        when = timezone.localtime(row.sampled_at)
        items.append(
            TimelineItem(
                on=when.date(),
                at=when.isoformat(),
                kind="test",
                label=gettext("PCR (%(kind)s)") % {"kind": row.get_kind_display()},
                detail=f"{row.tube.code}: {result}",
            )
        )
    for report in antigen.objects.filter(resident=resident).order_by("day")[:500]:
        items.append(
            TimelineItem(
                on=report.day,
                at=report.day.isoformat(),
                kind="antigen",
                label=gettext("Antigen self-test"),
                detail=str(report.get_result_display()),
            )
        )
    return items


def _event_detail(detail: dict[str, Any]) -> str:
    """An event's facts in the reader's language: labels for the keys, labels for coded values."""
    names = {
        "source": gettext("source"),
        "site": gettext("site"),
        "site_kind": gettext("kind of site"),
        "until": gettext("until"),
        "checked": gettext("checked"),
        "result": gettext("result"),
        "at": gettext("at"),
        "ct": "Ct",
    }
    values = {
        "source": dict(Source.choices),
        "site_kind": dict(SiteKind.choices),
        "result": dict(PcrResult.Result.choices),
    }
    parts = []
    for key, value in sorted(detail.items()):
        if value in (None, ""):
            continue
        if isinstance(value, bool):
            shown = gettext("yes") if value else gettext("no")
        else:
            shown = str(values.get(key, {}).get(value, value))
        parts.append(f"{names.get(key, key)}: {shown}")
    return ", ".join(parts)


def resident_timeline(resident: Resident) -> tuple[list[TimelineItem], bool]:
    """A resident's case events and PCR results (and mass-test samples when the testing app
    provides them). Returns (items, tests_included)."""
    items = [
        TimelineItem(
            on=e.on,
            at=e.at.isoformat(),
            kind=e.kind,
            label=str(e.get_kind_display()),
            detail=_event_detail(e.detail),
        )
        for e in CaseEvent.objects.filter(resident=resident)
        if e.kind != CaseEvent.Kind.PCR
    ]
    for r in PcrResult.objects.filter(case__resident=resident):
        ct = f", Ct {r.ct:g}" if r.ct is not None else ""
        local = timezone.localtime(r.sampled_at)
        items.append(
            TimelineItem(
                on=local.date(),
                at=local.isoformat(),
                kind="pcr",
                label=gettext("PCR in isolation"),
                detail=f"{r.get_result_display()}{ct}",
            )
        )
    tests = _testing_items(resident)
    if tests is not None:
        items.extend(tests)
    items.sort(key=lambda i: (i.on, i.at))
    return items, tests is not None


def residents_exempt_from_testing(community: Community, on: dt.date) -> set[int]:
    """Residents who are not expected at a mass round on ``on``: confirmed cases reported on or
    before ``on`` that are still in isolation (not discharged by ``on``) or within their
    post-discharge home health monitoring (up to and including ``monitoring_until``)."""
    return set(
        Case.objects.filter(community=community, report_date__lte=on)
        .filter(Q(discharged_on__isnull=True) | Q(discharged_on__gt=on) | Q(monitoring_until__gte=on))
        .values_list("resident_id", flat=True)
    )


# --------------------------------------------------------------------------- transfers

# Who goes first when beds are short: dialysis and chemotherapy (sessions cannot wait), pregnancy,
# the elderly living alone and the bedridden (nobody at home to care for them).
TRANSFER_FIRST = ("dialysis", "chemotherapy", "pregnant", "elderly_alone", "bedridden")


@dataclass(frozen=True)
class WaitingCase:
    case_id: int
    name: str
    where: str
    report_date: dt.date
    waiting_since: dt.datetime
    waiting_hours: int
    needs: list[str]  # what puts the case first (special care, translated)


def transfer_waiting(
    user: User | AnonymousUser, community: Community, *, now: dt.datetime | None = None
) -> list[WaitingCase]:
    """Cases waiting for a transfer (not transferred, not discharged, in no planned batch): the
    vulnerable first, then the longest waiting. One query."""
    if not sees_case_people(user):
        return []
    now = now or timezone.now()
    rows = (
        cases_visible(user)
        .filter(
            community=community, transferred_on__isnull=True, discharged_on__isnull=True, transfer_batch__isnull=True
        )
        .select_related("resident__household__building__compound")
        .order_by("created_at", "pk")
    )
    waiting = []
    for case in rows:
        needs = [str(SpecialCare(code).label) for code in case.resident.special_codes if code in TRANSFER_FIRST]
        waiting.append(
            WaitingCase(
                case_id=case.pk,
                name=case.resident.name,
                where=case.resident.household.full_label,
                report_date=case.report_date,
                waiting_since=case.created_at,
                waiting_hours=max(0, int((now - case.created_at).total_seconds() // 3600)),
                needs=needs,
            )
        )
    return sorted(waiting, key=lambda w: (not w.needs, w.waiting_since))


def transfer_batches(user: User | AnonymousUser, community: Community, *, limit: int = 30) -> list[Any]:
    """The community's latest batches with their site and cases (two queries)."""
    if not sees_case_people(user):
        return []
    from fangzhou.cases.models import TransferBatch

    return list(
        TransferBatch.objects.filter(community=community)
        .select_related("site", "handed_over_by")
        .prefetch_related("cases__resident__household__building__compound")[:limit]
    )
