"""What the household page and the building leader's group text read.

The household page is hot (every resident, every day): :func:`household_page` reads it in a fixed
number of queries, whatever the household's history (pinned by a test): the household with its
building, the members with today's antigen report and their PCR state in the current round
(subqueries, one statement), the notices, the deliveries, medicine requests and requests (one
union), and the building's zone status (the zones app's report).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.db.models import (
    CharField,
    DateTimeField,
    Exists,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    TextField,
    Value,
)
from django.db.models.functions import Cast, Coalesce
from django.utils import timezone, translation

from fangzhou.accounts.models import User
from fangzhou.accounts.permissions import building_q
from fangzhou.care.models import MedicineRequest, MedicineStatus
from fangzhou.lib.personal import mask_name
from fangzhou.notices.models import Notice, NoticeDelivery, PushSubscription
from fangzhou.notices.selectors import HouseholdNotice, household_notices
from fangzhou.registry.models import Building, Household, Resident
from fangzhou.registry.roster.normalize import room_stair_key
from fangzhou.supplies.models import Delivery, DeliveryStatus
from fangzhou.testing.models import AntigenReport, AntigenResult, Result, Retest, Round, Sample
from fangzhou.workorders.models import RequestKind, ResidentRequest, Status
from fangzhou.zones.selectors import zone_report

# The PCR state of one member in the current round, as the page words it (never the codes).
PCR_NOT_SAMPLED = "not_sampled"
PCR_SAMPLED = "sampled"  # sampled, no result yet
PCR_RETEST = "retest"  # pooled positive: awaiting re-test (待复查)
PCR_RECHECK = "recheck"  # awaiting re-test for another reason (an antigen positive, an invalid tube)
PCR_NEGATIVE = "negative"
PCR_CONTACT = "contact"  # re-test done, not negative: the committee calls (no diagnosis on a page)


def pcr_state(*, sampled: bool, result: str | None, retest: str | None, reason: str | None = None) -> str:
    """One member's state from their sample's tube result in the current round and their latest
    re-test's status and reason (pure: the page's rule, tested on its own)."""
    if retest == Retest.Status.PENDING:
        return PCR_RETEST if reason in (None, Retest.Reason.POSITIVE_TUBE) else PCR_RECHECK
    if not sampled:
        return PCR_NOT_SAMPLED
    if result is None:
        return PCR_SAMPLED
    if result == Result.NEGATIVE:
        return PCR_NEGATIVE
    if retest == Retest.Status.CLEARED:
        return PCR_NEGATIVE
    if retest == Retest.Status.CONFIRMED:
        return PCR_CONTACT
    return PCR_RETEST  # the tube's result is in, the re-test list not yet made


@dataclass(frozen=True)
class Member:
    id: int
    name: str  # masked
    antigen: str  # today's result code, "" when not reported
    antigen_label: str
    pcr: str


@dataclass(frozen=True)
class Business:
    """One delivery, medicine request or request of the household, as the page lists it."""

    section: str  # "delivery", "medicine", "request"
    id: int
    status: str
    status_label: str
    at: dt.datetime | None
    done_at: dt.datetime | None
    label: str
    detail: str
    member: str = ""  # the masked name of the member a medicine request is for


@dataclass(frozen=True)
class ZoneLine:
    status_label: str
    colour: str
    next_label: str
    next_change_on: dt.date | None
    countdown: int | None


@dataclass
class HouseholdPage:
    household: Household
    building: Building
    today: dt.date
    round_date: dt.date | None
    members: list[Member]
    notices: list[HouseholdNotice]
    business: list[Business]
    zone: ZoneLine | None
    has_push: bool
    unread: int = 0
    sections: dict[str, list[Business]] = field(default_factory=dict)

    @property
    def reported(self) -> int:
        return sum(1 for m in self.members if m.antigen)


def _lang() -> str:
    return "en" if (translation.get_language() or "zh").startswith("en") else "zh"


def _household(household_id: int, today: dt.date) -> Household | None:
    current_round = Round.objects.filter(community_id=OuterRef("building__community_id"), date__lte=today).order_by(
        "-date", "-id"
    )
    return (
        Household.objects.filter(pk=household_id)
        .select_related("building__compound", "building__community")
        .annotate(
            has_push=Exists(PushSubscription.objects.filter(household_id=OuterRef("pk"), gone_at__isnull=True)),
            round_id=Subquery(current_round.values("id")[:1]),
            round_date=Subquery(current_round.values("date")[:1]),
        )
        .first()
    )


def _members(household: Household, round_id: int | None, today: dt.date) -> list[Member]:
    own = Q(resident_id=OuterRef("pk"))
    samples = Sample.objects.filter(own, round_id=round_id or 0).order_by("-sampled_at", "-id")
    latest = Retest.objects.filter(own).order_by("-created_at", "-id")
    rows = (
        Resident.objects.filter(household_id=household.pk)
        .annotate(
            antigen=Subquery(AntigenReport.objects.filter(own, day=today).values("result")[:1]),
            sampled=Exists(samples),
            result=Subquery(samples.values("tube__lab_result__result")[:1]),
            retest=Subquery(latest.values("status")[:1]),
            reason=Subquery(latest.values("reason")[:1]),
        )
        .order_by("id")
        .values_list("id", "name", "antigen", "sampled", "result", "retest", "reason")
    )
    labels = dict(AntigenResult.choices)
    return [
        Member(
            id=pk,
            name=mask_name(name),
            antigen=antigen or "",
            antigen_label=str(labels.get(antigen, "")) if antigen else "",
            pcr=pcr_state(sampled=bool(sampled) and round_id is not None, result=result, retest=retest, reason=reason),
        )
        for pk, name, antigen, sampled, result, retest, reason in rows
    ]


def _business_union(household: Household) -> QuerySet[Any]:
    """The household's deliveries, medicine requests and requests in one statement (a union of
    three reads with the same seven columns; a household has dozens of rows at most)."""

    def text(value: str) -> Value:
        return Value(value, output_field=CharField())

    columns = ("b_section", "b_id", "b_status", "b_at", "b_done", "b_label", "b_detail")
    deliveries = (
        Delivery.objects.filter(household_id=household.pk)
        .annotate(
            b_section=text("delivery"),
            b_id=Cast("id", IntegerField()),
            b_status=Cast("status", CharField()),
            b_at=Cast("distribution__created_at", DateTimeField()),
            b_done=Cast("delivered_at", DateTimeField()),
            b_label=Cast("distribution__name", CharField()),
            b_detail=text(""),
        )
        .order_by()
        .values_list(*columns)
    )
    medicine = (
        MedicineRequest.objects.filter(resident__household_id=household.pk)
        .annotate(
            b_section=text("medicine"),
            b_id=Cast("id", IntegerField()),
            b_status=Cast("status", CharField()),
            b_at=Cast("created_at", DateTimeField()),
            b_done=Cast("delivered_at", DateTimeField()),
            b_label=Cast("pharmacy", CharField()),
            b_detail=Cast("medicines", TextField()),
        )
        .order_by()
        .values_list(*columns)
    )
    mine = Q(household_id=household.pk) | Q(
        household__isnull=True, building_id=household.building_id, room=household.room
    )
    requests = (
        ResidentRequest.objects.filter(mine)
        .annotate(
            b_section=text("request"),
            b_id=Cast("id", IntegerField()),
            b_status=Coalesce(Cast("order__status", CharField()), text("")),
            b_at=Cast("created_at", DateTimeField()),
            b_done=Cast("order__closed_at", DateTimeField()),
            b_label=Cast("reference", CharField()),
            b_detail=Cast("kind", CharField()),
        )
        .order_by()
        .values_list(*columns)
    )
    return deliveries.union(medicine, requests, all=True)


def _medicine_detail(raw: str) -> str:
    try:
        items = json.loads(raw or "[]")
    except ValueError:
        return ""
    if isinstance(items, str):  # some backends cast a JSON list to its JSON text twice
        try:
            items = json.loads(items)
        except ValueError:
            return ""
    names = [str(m.get("name", "")) for m in items if isinstance(m, dict)] if isinstance(items, list) else []
    return "、".join(n for n in names if n)


def _business(household: Household, members: list[Member], limit: int = 30) -> list[Business]:
    rows = list(_business_union(household))
    delivery_labels = dict(DeliveryStatus.choices)
    medicine_labels = dict(MedicineStatus.choices)
    order_labels = dict(Status.choices)
    kind_labels = dict(RequestKind.choices)
    out: list[Business] = []
    for section, pk, status, at, done, label, detail in rows:
        if section == "delivery":
            status_label = delivery_labels.get(status, "")
        elif section == "medicine":
            status_label = medicine_labels.get(status, "")
            detail = _medicine_detail(detail)
        else:
            status_label = order_labels.get(status, "") if status else ""
            detail = str(kind_labels.get(detail, ""))
        out.append(Business(section, int(pk), status or "", str(status_label), at, done, label or "", detail or ""))
    epoch = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    out.sort(key=lambda b: (b.at or epoch, b.id), reverse=True)
    return out[:limit]


def _zone(building: Building, on: dt.date) -> ZoneLine | None:
    report = zone_report(building.community, on)
    mine = report.building(building.pk)
    if mine is None:
        return None
    state, lang = mine.state, _lang()
    return ZoneLine(
        status_label=report.label(state.status, lang),
        colour=report.colour(state.status),
        next_label=report.label(state.next_status, lang) if state.next_status else "",
        next_change_on=state.next_change_on,
        countdown=(state.next_change_on - on).days if state.next_change_on else None,
    )


def household_page(household_id: int, token_matches: Callable[[str], bool]) -> HouseholdPage | None:
    """Everything the household page shows, for the household of a pass; None when the household
    is gone or ``token_matches(building.public_token)`` says the pass is from a replaced QR code."""
    today = timezone.localdate()
    household = _household(household_id, today)
    if household is None or not token_matches(household.building.public_token):
        return None
    building = household.building
    members = _members(household, household.round_id, today)  # type: ignore[attr-defined]
    notices = household_notices(household.pk, limit=30)
    business = _business(household, members)
    page = HouseholdPage(
        household=household,
        building=building,
        today=today,
        round_date=household.round_date,  # type: ignore[attr-defined]
        members=members,
        notices=notices,
        business=business,
        zone=_zone(building, today),
        has_push=bool(household.has_push),  # type: ignore[attr-defined]
        unread=sum(1 for n in notices if not n.read),
    )
    for item in business:
        page.sections.setdefault(item.section, []).append(item)
    return page


# --------------------------------------------------------------------------------------------------
# The building leader's group text


def notice_building_ids(notice: Notice) -> set[int]:
    """The buildings a notice went to: those its audience names, and those of its households."""
    args = notice.audience_args or {}
    ids: set[int] = set()
    for key in ("building_id", "building_ids", "buildings"):
        value = args.get(key)
        values = value if isinstance(value, list) else [value]
        ids |= {int(v) for v in values if isinstance(v, int) or (isinstance(v, str) and v.isdigit())}
    ids |= set(
        NoticeDelivery.objects.filter(notice=notice, household__isnull=False)
        .values_list("household__building_id", flat=True)
        .distinct()
    )
    return ids


def notices_for_leader(user: User, *, days: int = 14, limit: int = 50) -> list[tuple[Notice, list[Building]]]:
    """Recent notices that reached one of the user's buildings, each with those buildings."""
    since = timezone.now() - dt.timedelta(days=days)
    mine = Building.objects.filter(building_q(user)).select_related("compound")
    by_id = {b.pk: b for b in mine}
    if not by_id:
        return []
    reached = NoticeDelivery.objects.filter(notice_id=OuterRef("pk"), household__building_id__in=list(by_id))
    notices = list(
        Notice.objects.filter(community_id__in={b.community_id for b in by_id.values()}, created_at__gte=since)
        .filter(Q(Exists(reached)) | Q(audience="building", audience_args__building_id__in=list(by_id)))
        .order_by("-created_at", "-id")[:limit]
    )
    out = []
    for notice in notices:
        ids = notice_building_ids(notice) & set(by_id)
        out.append((notice, sorted((by_id[i] for i in ids), key=lambda b: (b.sort_key, b.pk))))
    return out


def leader_notice(user: User, notice_id: int, building_id: int) -> tuple[Notice, Building] | None:
    """The notice and the building, if the building is the user's and the notice reached it."""
    building = Building.objects.filter(building_q(user), pk=building_id).select_related("compound", "community").first()
    if building is None:
        return None
    notice = Notice.objects.filter(pk=notice_id, community_id=building.community_id).first()
    if notice is None or building.pk not in notice_building_ids(notice):
        return None
    return notice, building


def notice_rooms(notice: Notice, building: Building) -> list[str]:
    """The rooms of the building the notice went to (sorted as doors are)."""
    rooms = set(
        NoticeDelivery.objects.filter(notice=notice, household__building=building).values_list(
            "household__room", flat=True
        )
    )
    return sorted(rooms, key=room_stair_key)


def building_names(building: Building) -> list[str]:
    """Every resident's name in the building (the group text's scrub removes them)."""
    return list(Resident.objects.filter(household__building=building).values_list("name", flat=True))
