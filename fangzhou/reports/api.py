"""Daily report endpoints: the community's report and the subdistrict's table, as JSON (counts only)."""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpRequest
from ninja import Router, Schema
from ninja.errors import HttpError
from ninja.security import django_auth

from fangzhou.accounts.models import Scope
from fangzhou.accounts.permissions import can_read_counts, token_community_q
from fangzhou.accounts.tokens import ApiKeyAuth, refuse_place, request_token, token_reader
from fangzhou.registry.selectors import communities_of_token
from fangzhou.reports import selectors

router = Router(tags=["reports"])


class ReportCommunityOut(Schema):
    code: str
    name: str
    subdistrict: str


class CasesOut(Schema):
    new: int
    total: int
    awaiting_transfer: int
    in_isolation: int
    home_monitoring: int
    close_contacts: int
    longest_wait_hours: int


class ReportRoundOut(Schema):
    id: int
    date: str
    status: str
    expected: int
    sampled: int
    missing: int
    exempt: int
    rate: float
    tubes: int
    tubes_resulted: int
    positive_tubes: int


class TestingOut(Schema):
    round: ReportRoundOut | None
    pending_retests: int


class ReportAntigenOut(Schema):
    residents: int
    reported: int
    rate: float
    positive: int


class ReportPlaceOut(Schema):
    kind: str
    name: str
    compound: str
    status: str
    label_zh: str
    label_en: str
    last_case_on: str | None
    days_without_case: int | None
    next_change_on: str | None
    next_status: str | None
    overridden: bool
    held_by: str = ""


class ZonesOut(Schema):
    rule_set: str
    days_without_case: int | None
    places: list[ReportPlaceOut]
    buildings_by_status: dict[str, int]


class OrdersOut(Schema):
    open: int
    overdue: int
    done: int
    new: int


class RequestsOut(Schema):
    open: int
    closed: int
    new: int


class ReportDistributionOut(Schema):
    id: int
    name: str
    kind: str
    on: str
    total: int
    done: int
    pending: int


class SuppliesOut(Schema):
    deliveries_done: int
    deliveries_pending: int
    distributions: list[ReportDistributionOut]


class CareOut(Schema):
    at_risk_48h: int


class VolunteersOut(Schema):
    approved: int
    on_duty: int


class DailyOut(Schema):
    community: ReportCommunityOut
    day: str
    as_of: str
    residents: int
    households: int
    cases: CasesOut
    testing: TestingOut
    antigen: ReportAntigenOut
    zones: ZonesOut
    work_orders: OrdersOut
    requests: RequestsOut
    supplies: SuppliesOut
    care: CareOut
    volunteers: VolunteersOut


class RowRoundOut(Schema):
    date: str | None
    sampled: int
    positive_tubes: int


class RowZoneOut(Schema):
    status: str
    label_zh: str
    label_en: str
    sealed_places: int
    days_without_case: int | None


class RowOut(Schema):
    code: str
    name: str
    subdistrict: str
    residents: int
    cases: CasesOut
    antigen: ReportAntigenOut
    round: RowRoundOut
    pending_retests: int
    zone: RowZoneOut
    work_orders: OrdersOut
    requests: RequestsOut


class SubdistrictOut(Schema):
    day: str
    as_of: str
    communities: list[RowOut]


def _reader(request: HttpRequest) -> None:
    if not can_read_counts(request.user):
        raise HttpError(403, "无权查看日报 / you may not see daily reports")


# The session (the committee, the subdistrict officer) or a district system's API key (``reports:read``).
READERS = [django_auth, ApiKeyAuth(Scope.REPORTS_READ)]


@router.get("/communities/{code}/daily", response=DailyOut, auth=READERS)
def community_daily(request: HttpRequest, code: str, day: str | None = None) -> dict[str, Any]:
    """The community's daily report for ``day`` (YYYY-MM-DD, default today)."""
    on = selectors.report_day(day)
    token = request_token(request)
    if token is not None:
        found = communities_of_token(token).filter(code=code).first()
        if found is None:
            refuse_place(request, token)
            raise Http404("community not found")
        return selectors.daily_report(token_reader(token), found, on).as_dict()
    _reader(request)
    return selectors.daily_report(request.user, code, on).as_dict()  # 404 unless the user reads it whole


@router.get("/subdistrict", response=SubdistrictOut, auth=READERS)
def subdistrict(request: HttpRequest, day: str | None = None) -> dict[str, Any]:
    """One row per community the user (or the API key) may report on, with the key figures of ``day``."""
    on = selectors.report_day(day)
    token = request_token(request)
    if token is not None:
        table = selectors.subdistrict_table(token_reader(token), on, only=token_community_q(token))
        return selectors.subdistrict_json(table)
    _reader(request)
    return selectors.subdistrict_json(selectors.subdistrict_table(request.user, on))
