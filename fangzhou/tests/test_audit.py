"""What is audited: every writing service leaves its audit rows, through the one audit function.

``CASES`` names each public ``<noun>_<verb>`` of every app's ``services`` module that changes data,
how to call it on the test world, and the rows it leaves: one row with its own action, plus — for a
service that writes through other services (a case opens work orders, an approval creates an
account, an import updates residents) — the documented rows of those services. ``READ_ONLY`` lists
the names that write nothing. A new service in neither fails ``test_every_service_is_in_the_table``.
"""

from __future__ import annotations

import datetime as dt
import inspect
import json
import re
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from django.utils import timezone, translation

from fangzhou.accounts import services as accounts_services
from fangzhou.accounts.audit import AuditAction, SensitiveDetail, audit_record, audit_record_many, audit_row, masked
from fangzhou.accounts.models import AuditLog, Role, User
from fangzhou.care import services as care_services
from fangzhou.care.models import CareProfile, MedicineRequest, TreatmentSchedule
from fangzhou.cases import services as cases_services
from fangzhou.cases.models import Case
from fangzhou.registry import services as registry_services
from fangzhou.registry.models import Household, Resident, ResidentTransfer
from fangzhou.registry.tests.factories import World, make_id, place, roster_sheet
from fangzhou.supplies import services as supplies_services
from fangzhou.supplies.models import Delivery, Distribution, RoutePlan
from fangzhou.testing import services as testing_services
from fangzhou.testing.models import Round, Tube
from fangzhou.testing.tests.helpers import DAY, csv_bytes, sampled_round
from fangzhou.volunteers import services as volunteers_services
from fangzhou.volunteers.models import ShiftAssignment, SwapRequest, Volunteer, WorkGroup
from fangzhou.volunteers.tests.helpers import approved
from fangzhou.workorders import services as workorders_services
from fangzhou.workorders.models import ResidentRequest, WorkOrder
from fangzhou.zones import services as zones_services
from fangzhou.zones.models import MicroZone, ZoneOverride

SERVICE_MODULES: list[ModuleType] = [
    accounts_services,
    registry_services,
    workorders_services,
    cases_services,
    zones_services,
    testing_services,
    volunteers_services,
    supplies_services,
    care_services,
]

# Public functions of the services modules that change nothing (helpers, reads, exports for the lab).
READ_ONLY = {
    "care.checkin_due",
    "care.checkin_missed_source_key",
    "care.escort_lead_hours",
    "care.escort_source_key",
    "cases.case_discharge_check",
    "registry.community_counts_check",
    "cases.case_rules",
    "cases.default_case_rules",
    "cases.parse_date",
    "supplies.package_scaling_default",
    "supplies.route_time_limit_s",
    "supplies.sweep_source_key",
    "supplies.trip_time_limit_s",
    "testing.expected_by_building",
    "testing.manifest_csv",
    "volunteers.signup_link_community",
    "accounts.signin_link_valid",
    "accounts.api_key_hash",
    # django-axes' signal receiver: it calls login_lockout_record once per lock (covered below).
    "accounts.on_user_locked_out",
}

A = AuditAction
Run = Callable[[World], Callable[[], object]]


@dataclass(frozen=True)
class AuditCase:
    service: str  # "<app>.<function>"
    run: Run  # set up on the world, return the call under test
    expect: dict[AuditAction, int]


CASES: dict[str, AuditCase] = {}


def case(service: str, action: AuditAction, *, variant: str = "", also: dict[AuditAction, int] | None = None) -> Any:
    """Register ``run`` as the case of ``service``: it leaves one ``action`` row and the rows in ``also``."""

    def register(run: Run) -> Run:
        expect = Counter({action: 1})
        expect.update(also or {})
        CASES[f"{service}[{variant}]" if variant else service] = AuditCase(service, run, dict(expect))
        return run

    return register


def _now() -> dt.datetime:
    return timezone.now()


def _wang(w: World) -> Resident:
    """王秀英 lives alone in 3号楼 102 and is flagged as an elderly person living alone."""
    return w.resident("王秀英")


# --------------------------------------------------------------------------- accounts


@case("accounts.user_upsert", A.USER_CREATE, variant="create")
def _user_create(w: World) -> Callable[[], object]:
    return lambda: accounts_services.user_upsert(
        username="13812345678", password="pw-pw-pw-pw", role=Role.VOLUNTEER, community=w.community, actor=w.secretary
    )


@case("accounts.user_upsert", A.USER_UPDATE, variant="update")
def _user_update(w: World) -> Callable[[], object]:
    return lambda: accounts_services.user_upsert(
        username="vol", password="pw-pw-pw-pw", role=Role.VOLUNTEER, community=w.community, actor=w.secretary
    )


@case("accounts.account_create", A.USER_CREATE)
def _account_create(w: World) -> Callable[[], object]:
    return lambda: accounts_services.account_create(
        actor=w.secretary, username="leader9", role=Role.BUILDING_LEADER, community=w.community, buildings=[w.b5]
    )


@case("accounts.account_disable", A.ACCOUNT_DISABLE)
def _account_disable(w: World) -> Callable[[], object]:
    return lambda: accounts_services.account_disable(actor=w.secretary, target=w.leader)


@case("accounts.account_enable", A.ACCOUNT_ENABLE, also={A.ACCOUNT_DISABLE: 1})
def _account_enable(w: World) -> Callable[[], object]:
    def run() -> object:
        accounts_services.account_disable(actor=w.secretary, target=w.leader)
        return accounts_services.account_enable(actor=w.secretary, target=w.leader)

    return run


@case("accounts.account_community_add", A.ACCOUNT_COMMUNITY_ADD)
def _account_community_add(w: World) -> Callable[[], object]:
    return lambda: accounts_services.account_community_add(actor=w.outsider, target=w.secretary, community=w.other)


@case("accounts.account_community_remove", A.ACCOUNT_COMMUNITY_REMOVE, also={A.ACCOUNT_COMMUNITY_ADD: 1})
def _account_community_remove(w: World) -> Callable[[], object]:
    def run() -> object:
        accounts_services.account_community_add(actor=w.outsider, target=w.secretary, community=w.other)
        return accounts_services.account_community_remove(actor=w.outsider, target=w.secretary, community=w.other)

    return run


@case("accounts.deputy_name", A.DEPUTY_NAME)
def _deputy_name(w: World) -> Callable[[], object]:
    return lambda: accounts_services.deputy_name(actor=w.secretary, community=w.community, deputy=w.leader)


@case("accounts.deputy_revoke", A.DEPUTY_REVOKE, also={A.DEPUTY_NAME: 1})
def _deputy_revoke(w: World) -> Callable[[], object]:
    def run() -> object:
        held, _ = accounts_services.deputy_name(actor=w.secretary, community=w.community, deputy=w.leader)
        return accounts_services.deputy_revoke(actor=w.secretary, deputy_id=held.pk)

    return run


# --------------------------------------------------------------------------- registry


@case("registry.community_create", A.COMMUNITY_CREATE)
def _community_create(w: World) -> Callable[[], object]:
    return lambda: registry_services.community_create(code="T03", name="第三居民区", actor=w.officer)


@case("registry.community_counts_repair", A.COUNTS_REPAIR)
def _community_counts_repair(w: World) -> Callable[[], object]:
    return lambda: registry_services.community_counts_repair(actor=None)


@case("registry.roster_export", A.ROSTER_EXPORT)
def _roster_export(w: World) -> Callable[[], object]:
    return lambda: registry_services.roster_export(community=w.community, actor=w.secretary)


@case("registry.site_plan_apply", A.SITE_PLAN_APPLY)
def _site_plan_apply(w: World) -> Callable[[], object]:
    placed = registry_services.PlacedBuilding(w.b3.pk, 10, 10, 40, 12, 6, [])
    return lambda: registry_services.site_plan_apply(community=w.community, buildings=[placed], actor=w.secretary)


@case("registry.compound_upsert", A.COMPOUND_CREATE, variant="create")
def _compound_create(w: World) -> Callable[[], object]:
    return lambda: registry_services.compound_upsert(community=w.community, name="新小区", actor=w.secretary)


@case("registry.compound_upsert", A.COMPOUND_UPDATE, variant="update")
def _compound_update(w: World) -> Callable[[], object]:
    return lambda: registry_services.compound_upsert(
        community=w.community, name=w.b3.compound.name, kind="plaza", actor=w.secretary
    )


@case("registry.building_token_rotate", A.BUILDING_TOKEN_ROTATE)
def _building_token_rotate(w: World) -> Callable[[], object]:
    return lambda: registry_services.building_token_rotate(building=w.b3, actor=w.secretary)


@case("registry.building_tokens_ensure", A.BUILDING_TOKENS_ENSURE)
def _building_tokens_ensure(w: World) -> Callable[[], object]:
    return lambda: registry_services.building_tokens_ensure(community=w.community)


@case("registry.resident_unmask", A.RESIDENT_UNMASK)
def _resident_unmask(w: World) -> Callable[[], object]:
    return lambda: registry_services.resident_unmask(actor=w.secretary, resident=w.resident("张伟"))


@case("registry.resident_call", A.RESIDENT_CALL)
def _resident_call(w: World) -> Callable[[], object]:
    return lambda: registry_services.resident_call(actor=w.leader, resident=w.resident("张伟"), where="not_reported")


@case("registry.resident_transfer_decide", A.RESIDENT_TRANSFER_APPROVE)
def _resident_transfer_decide(w: World) -> Callable[[], object]:
    zhang = w.resident("张伟")
    row = ["河畔小区", "2号楼", "501", "张伟", zhang.id_number, "", "", ""]
    registry_services.roster_import(community=w.other, actor=w.outsider, sheet=roster_sheet([row]), filename="o.xlsx")
    transfer = ResidentTransfer.objects.get()
    return lambda: registry_services.resident_transfer_decide(transfer_id=transfer.pk, actor=w.officer, approve=True)


# One row for the import and one per resident it changed (here: 张伟's phone).
@case("registry.roster_import", A.ROSTER_IMPORT, also={A.RESIDENT_UPDATE: 1})
def _roster_import(w: World) -> Callable[[], object]:
    zhang = w.resident("张伟")
    row = ["阳光小区", "3号楼", "101", "张伟", zhang.id_number, "13811119999", "", "一网格"]
    return lambda: registry_services.roster_import(
        community=w.community, actor=w.secretary, sheet=roster_sheet([row]), filename="13800001234.xlsx"
    )


# --------------------------------------------------------------------------- work orders


def _order(w: World, **extra: Any) -> WorkOrder:
    order, _created = workorders_services.work_order_create(
        community=w.community, kind="disinfection", title="消毒 3号楼楼道", actor=w.secretary, building=w.b3, **extra
    )
    return order


@case("workorders.work_order_create", A.WORK_ORDER_CREATE)
def _work_order_create(w: World) -> Callable[[], object]:
    return lambda: _order(w)


@case("workorders.work_order_claim", A.WORK_ORDER_CLAIM)
def _work_order_claim(w: World) -> Callable[[], object]:
    order = _order(w)
    return lambda: workorders_services.work_order_claim(order_id=order.pk, actor=w.secretary)


def _door_orders(w: World) -> list[WorkOrder]:
    """The household checks of 3号楼 101's two members: one door."""
    return [
        workorders_services.work_order_create(
            community=w.community, kind="household_check", title="看看", actor=w.secretary, resident=w.resident(name)
        )[0]
        for name in ("张伟", "李娜")
    ]


@case("workorders.door_task_claim", A.WORK_ORDER_CLAIM, also={A.WORK_ORDER_CLAIM: 1})
def _door_task_claim(w: World) -> Callable[[], object]:
    first, _second = _door_orders(w)
    return lambda: workorders_services.door_task_claim(order_id=first.pk, actor=w.secretary)


@case("workorders.door_task_transition", A.WORK_ORDER_START, also={A.WORK_ORDER_START: 1})
def _door_task_transition(w: World) -> Callable[[], object]:
    first, _second = _door_orders(w)
    workorders_services.door_task_claim(order_id=first.pk, actor=w.secretary)
    return lambda: workorders_services.door_task_transition(order_id=first.pk, actor=w.secretary, action="start")


def _transition(action: str, claimed: bool) -> Run:
    def run(w: World) -> Callable[[], object]:
        order = _order(w)
        if claimed:
            workorders_services.work_order_claim(order_id=order.pk, actor=w.secretary)
        return lambda: workorders_services.work_order_transition(
            order_id=order.pk, actor=w.secretary, action=action, note="已处理，联系 13800001234"
        )

    return run


for _action, _member, _claimed in (
    ("start", A.WORK_ORDER_START, True),
    ("done", A.WORK_ORDER_DONE, True),
    ("release", A.WORK_ORDER_RELEASE, True),
    ("cancel", A.WORK_ORDER_CANCEL, False),
):
    case("workorders.work_order_transition", _member, variant=_action)(_transition(_action, _claimed))


@case("workorders.work_orders_escalate", A.WORK_ORDER_ESCALATE)
def _work_orders_escalate(w: World) -> Callable[[], object]:
    _order(w, due_at=_now() - dt.timedelta(hours=3))
    return lambda: workorders_services.work_orders_escalate(community=w.community)


# The request opens its work order.
@case("workorders.resident_request_submit", A.REQUEST_SUBMIT, also={A.WORK_ORDER_CREATE: 1})
def _resident_request_submit(w: World) -> Callable[[], object]:
    return lambda: workorders_services.resident_request_submit(
        building=w.b3, kind="food", text="家里没有米了", room="101", contact_phone="13800001234"
    )


@case("workorders.resident_request_escalate", A.REQUEST_ESCALATE)
def _resident_request_escalate(w: World) -> Callable[[], object]:
    request, _ = workorders_services.resident_request_submit(building=w.b3, kind="food", text="家里没有米了")
    return lambda: workorders_services.resident_request_escalate(
        request=ResidentRequest.objects.get(pk=request.pk), actor=w.secretary, note="请回电 13800001234"
    )


# --------------------------------------------------------------------------- cases


@case("cases.case_settings_update", A.CASE_SETTINGS_UPDATE)
def _case_settings_update(w: World) -> Callable[[], object]:
    return lambda: cases_services.case_settings_update(
        community=w.community,
        actor=w.secretary,
        discharge_gap_hours=24,
        discharge_min_ct=35.0,
        monitoring_days=7,
        contact_days=5,
    )


def _confirm(w: World) -> Case:
    case, _ = cases_services.case_confirm(resident=_wang(w), report_date=DAY, source="district", actor=w.secretary)
    return case


# A new case opens three work orders (transfer, disinfection, household check); 王秀英 lives alone,
# so no close contacts and no contact tests.
@case("cases.case_confirm", A.CASE_CONFIRM, also={A.WORK_ORDER_CREATE: 3})
def _case_confirm(w: World) -> Callable[[], object]:
    return lambda: _confirm(w)


@case("cases.case_transfer", A.CASE_TRANSFER)
def _case_transfer(w: World) -> Callable[[], object]:
    c = _confirm(w)
    return lambda: cases_services.case_transfer(
        case_id=c.pk, site_kind="shelter", site_name="方舱一号", transferred_on=DAY, actor=w.secretary
    )


def _sampled(day_offset: int) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(DAY + dt.timedelta(days=day_offset), dt.time(9, 0)))


@case("cases.case_pcr_record", A.CASE_PCR_RECORD)
def _case_pcr_record(w: World) -> Callable[[], object]:
    c = _confirm(w)
    return lambda: cases_services.case_pcr_record(
        case_id=c.pk, sampled_at=_sampled(5), negative=True, ct=36.0, actor=w.secretary
    )


# Discharge opens the home-monitoring work order.
@case("cases.case_discharge", A.CASE_DISCHARGE, also={A.WORK_ORDER_CREATE: 1})
def _case_discharge(w: World) -> Callable[[], object]:
    c = _confirm(w)
    for offset in (5, 7):
        cases_services.case_pcr_record(case_id=c.pk, sampled_at=_sampled(offset), negative=True, ct=37.0, actor=None)
    return lambda: cases_services.case_discharge(case_id=c.pk, discharged_on=DAY + dt.timedelta(days=7), actor=None)


# The import confirms its one case, which opens its three work orders.
@case("cases.cases_import", A.CASES_IMPORT, also={A.CASE_CONFIRM: 1, A.WORK_ORDER_CREATE: 3})
def _cases_import(w: World) -> Callable[[], object]:
    data = csv_bytes([["证件号码", "报告日期"], [_wang(w).id_number, DAY.isoformat()]])
    return lambda: cases_services.cases_import(community=w.community, actor=w.secretary, data=data, filename="c.csv")


# --------------------------------------------------------------------------- zones


@case("zones.zone_rules_set", A.ZONES_RULES)
def _zone_rules_set(w: World) -> Callable[[], object]:
    return lambda: zones_services.zone_rules_set(community=w.community, rule_set="national-9", actor=w.secretary)


def _override(w: World) -> ZoneOverride:
    return zones_services.zone_override_create(
        community=w.community,
        actor=w.secretary,
        status="sealed",
        reason="街道通知延长封控，联系人 13800001234",
        since=DAY,
        until=DAY + dt.timedelta(days=5),
        compound=w.b3.compound,
    )


@case("zones.zone_override_create", A.ZONES_OVERRIDE)
def _zone_override_create(w: World) -> Callable[[], object]:
    return lambda: _override(w)


@case("zones.zone_override_end", A.ZONES_OVERRIDE_END)
def _zone_override_end(w: World) -> Callable[[], object]:
    override = _override(w)
    return lambda: zones_services.zone_override_end(override_id=override.pk, on=DAY, actor=w.secretary)


def _block(w: World) -> MicroZone:
    return zones_services.microzone_draw(
        compound=w.b3.compound, name="A块", building_ids=[w.b3.pk], drawn_on=DAY, actor=w.secretary
    ).microzone


@case("zones.microzone_draw", A.ZONES_BLOCK_DRAW)
def _microzone_draw(w: World) -> Callable[[], object]:
    return lambda: _block(w)


@case("zones.microzone_change", A.ZONES_BLOCK_CHANGE)
def _microzone_change(w: World) -> Callable[[], object]:
    mz = _block(w)
    return lambda: zones_services.microzone_change(
        microzone_id=mz.pk, building_ids=[w.b3.pk, w.b5.pk], actor=w.secretary
    )


@case("zones.microzone_dissolve", A.ZONES_BLOCK_DISSOLVE)
def _microzone_dissolve(w: World) -> Callable[[], object]:
    mz = _block(w)
    return lambda: zones_services.microzone_dissolve(microzone_id=mz.pk, on=DAY, actor=w.secretary)


@case("zones.site_roads_set", A.ZONES_ROADS)
def _site_roads_set(w: World) -> Callable[[], object]:
    nodes = [zones_services.NodeIn("G", 50, 0), zones_services.NodeIn("M", 50, 30)]
    roads = [zones_services.RoadIn("G", "M", 5.0, "中央路")]
    return lambda: zones_services.site_roads_set(
        compound=w.b3.compound, nodes=nodes, roads=roads, gates={"北门": "G"}, actor=w.secretary
    )


@case("zones.open_space_upsert", A.ZONES_OPEN_SPACE)
def _open_space_upsert(w: World) -> Callable[[], object]:
    return lambda: zones_services.open_space_upsert(compound=w.b3.compound, name="小广场", x=0, y=0, actor=None)


# --------------------------------------------------------------------------- testing


def _round(w: World) -> Round:
    return testing_services.round_create(community=w.community, date=DAY, actor=w.secretary)


@case("testing.round_create", A.ROUND_CREATE)
def _round_create(w: World) -> Callable[[], object]:
    return lambda: _round(w)


def _site(w: World, rnd: Round) -> object:
    return testing_services.site_add(
        round=rnd, name="北广场", desks=2, opens_at=dt.time(8), closes_at=dt.time(11), x=0, y=0, actor=w.secretary
    )


@case("testing.site_add", A.SITE_SAVE)
def _site_add(w: World) -> Callable[[], object]:
    rnd = _round(w)
    return lambda: _site(w, rnd)


@case("testing.round_schedule", A.ROUND_SCHEDULE)
def _round_schedule(w: World) -> Callable[[], object]:
    place(w)
    rnd = _round(w)
    _site(w, rnd)
    return lambda: testing_services.round_schedule(round=rnd, actor=w.secretary)


@case("testing.sample_take", A.SAMPLE_TAKE)
def _sample_take(w: World) -> Callable[[], object]:
    rnd = _round(w)
    return lambda: testing_services.sample_take(
        round=rnd, residents=[w.resident("张伟"), w.resident("李娜")], actor=w.secretary, station="desk-1"
    )


@case("testing.tube_close", A.TUBE_CLOSE)
def _tube_close(w: World) -> Callable[[], object]:
    rnd = _round(w)
    taken = testing_services.sample_take(round=rnd, residents=[_wang(w)], actor=w.secretary, station="desk-1")
    return lambda: testing_services.tube_close(tube=Tube.objects.get(pk=taken.tube.pk), actor=w.secretary)


@case("testing.round_close", A.ROUND_CLOSE)
def _round_close(w: World) -> Callable[[], object]:
    rnd = _round(w)
    return lambda: testing_services.round_close(round=rnd, actor=w.secretary)


@case("testing.samples_import", A.SAMPLES_IMPORT)
def _samples_import(w: World) -> Callable[[], object]:
    rnd = _round(w)
    data = csv_bytes([["试管编码", "证件号码", "姓名"], ["A0001", _wang(w).id_number, "王秀英"]])
    return lambda: testing_services.samples_import(round=rnd, data=data, filename="s.csv", actor=w.secretary)


@case("testing.results_import", A.RESULTS_IMPORT)
def _results_import(w: World) -> Callable[[], object]:
    rnd = sampled_round(w)
    code = Tube.objects.filter(round=rnd).order_by("id").values_list("code", flat=True)[0]
    data = csv_bytes([["tube_code", "result"], [code, "阴性"]])
    return lambda: testing_services.results_import(round=rnd, data=data, filename="lab.csv", actor=w.secretary)


# A re-test comes with its door-to-door work order.
@case("testing.retest_open", A.RETEST_OPEN, also={A.WORK_ORDER_CREATE: 1})
def _retest_open(w: World) -> Callable[[], object]:
    return lambda: testing_services.retest_open(resident=_wang(w), reason="antigen", actor=w.secretary, key="t")


# Confirming from the re-test list opens the case (its three orders; 王秀英 lives alone, so no
# close contacts) and cancels the re-test's door order.
@case(
    "testing.retest_case_confirm",
    A.RETEST_CONFIRM,
    also={A.CASE_CONFIRM: 1, A.WORK_ORDER_CREATE: 3, A.WORK_ORDER_AUTO_CLOSE: 1},
)
def _retest_case_confirm(w: World) -> Callable[[], object]:
    retest, _ = testing_services.retest_open(resident=_wang(w), reason="antigen", actor=None, key="t")
    return lambda: testing_services.retest_case_confirm(retest_id=retest.pk, actor=w.secretary)


@case("testing.antigen_report_submit", A.ANTIGEN_SUBMIT)
def _antigen_report_submit(w: World) -> Callable[[], object]:
    wang = _wang(w)
    return lambda: testing_services.antigen_report_submit(
        household=wang.household, day=DAY, results={wang.pk: "negative"}, client_id=uuid.uuid4().hex
    )


@case("testing.antigen_report_on_behalf", A.ANTIGEN_SUBMIT)
def _antigen_report_on_behalf(w: World) -> Callable[[], object]:
    wang = _wang(w)
    return lambda: testing_services.antigen_report_on_behalf(
        household=wang.household,
        day=timezone.localdate(),
        results={wang.pk: "negative"},
        client_id=uuid.uuid4().hex,
        actor=w.leader,
    )


@case("testing.kit_handout_record", A.KITS_HANDOUT)
def _kit_handout_record(w: World) -> Callable[[], object]:
    return lambda: testing_services.kit_handout_record(household=_wang(w).household, day=DAY, kits=2, actor=w.secretary)


# --------------------------------------------------------------------------- volunteers


def _volunteer(w: World, name: str = "甲", phone: str = "13811113301") -> Volunteer:
    volunteers_services.work_groups_ensure(community=w.community)
    return approved(w.community, name, phone)


@case("accounts.password_change", A.ACCOUNT_PASSWORD_CHANGE)
def _password_change(w: World) -> Callable[[], object]:
    return lambda: accounts_services.password_change(user=w.secretary, new_password="a-new-long-pass-7")


@case("accounts.signin_link_create", A.ACCOUNT_RESET_LINK)
def _signin_link_create(w: World) -> Callable[[], object]:
    return lambda: accounts_services.signin_link_create(user=w.volunteer, actor=w.secretary)


@case("accounts.signin_link_use", A.ACCOUNT_RESET_LINK_USED, also={A.ACCOUNT_RESET_LINK: 1})
def _signin_link_use(w: World) -> Callable[[], object]:
    def run() -> object:
        made = accounts_services.signin_link_create(user=w.volunteer, actor=w.secretary)
        return accounts_services.signin_link_use(token=made.token, new_password="a-new-long-pass-8")

    return run


@case("accounts.api_token_create", A.API_TOKEN_CREATE)
def _api_token_create(w: World) -> Callable[[], object]:
    return lambda: accounts_services.api_token_create(
        name="某某检测机构", scopes=["results:write"], community=w.community, actor=w.secretary
    )


@case("accounts.api_token_revoke", A.API_TOKEN_REVOKE, also={A.API_TOKEN_CREATE: 1})
def _api_token_revoke(w: World) -> Callable[[], object]:
    def run() -> object:
        made = accounts_services.api_token_create(
            name="区日报系统", scopes=["reports:read"], subdistrict=w.community.subdistrict, actor=w.officer
        )
        return accounts_services.api_token_revoke(token=made.token, actor=w.officer)

    return run


@case("accounts.api_token_refusal_record", A.API_TOKEN_REFUSE)
def _api_token_refusal_record(w: World) -> Callable[[], object]:
    return lambda: accounts_services.api_token_refusal_record(
        token=None, prefix="0000beef", reason="unknown", path="/api/reports/subdistrict"
    )


@case("accounts.login_lockout_record", A.ACCOUNT_LOCKOUT)
def _login_lockout_record(w: World) -> Callable[[], object]:
    return lambda: accounts_services.login_lockout_record(username=w.secretary.username)


@case("volunteers.volunteer_phone_reveal", A.VOLUNTEER_PHONE_UNMASK)
def _volunteer_phone_reveal(w: World) -> Callable[[], object]:
    volunteer = _signed_up(w)
    return lambda: volunteers_services.volunteer_phone_reveal(volunteer=volunteer, actor=w.secretary)


@case("volunteers.signup_link_ensure", A.VOLUNTEER_SIGNUP_LINK_CREATE)
def _signup_link_ensure(w: World) -> Callable[[], object]:
    return lambda: volunteers_services.signup_link_ensure(community=w.community)


@case("volunteers.signup_link_rotate", A.VOLUNTEER_SIGNUP_LINK_ROTATE)
def _signup_link_rotate(w: World) -> Callable[[], object]:
    volunteers_services.signup_link_ensure(community=w.community)
    return lambda: volunteers_services.signup_link_rotate(community=w.community, actor=w.secretary)


@case("volunteers.volunteer_signup", A.VOLUNTEER_SIGNUP)
def _volunteer_signup(w: World) -> Callable[[], object]:
    return lambda: volunteers_services.volunteer_signup(
        community=w.community, client_id=uuid.uuid4().hex, name="钱多", phone="13811113302"
    )


def _signed_up(w: World) -> Volunteer:
    volunteer, _ = volunteers_services.volunteer_signup(
        community=w.community, client_id=uuid.uuid4().hex, name="钱多", phone="13811113302"
    )
    return volunteer


# Approval creates the volunteer's account (its username is the phone, stored masked) and its
# one-time sign-in link.
@case("volunteers.volunteer_approve", A.VOLUNTEER_APPROVE, also={A.USER_CREATE: 1, A.ACCOUNT_RESET_LINK: 1})
def _volunteer_approve(w: World) -> Callable[[], object]:
    volunteers_services.work_groups_ensure(community=w.community)
    volunteer = _signed_up(w)
    return lambda: volunteers_services.volunteer_approve(volunteer=volunteer, actor=w.secretary, groups=["supplies"])


@case("volunteers.volunteer_reject", A.VOLUNTEER_REJECT)
def _volunteer_reject(w: World) -> Callable[[], object]:
    volunteer = _signed_up(w)
    return lambda: volunteers_services.volunteer_reject(volunteer=volunteer, actor=w.secretary)


@case("volunteers.work_groups_ensure", A.WORK_GROUPS_ENSURE)
def _work_groups_ensure(w: World) -> Callable[[], object]:
    return lambda: volunteers_services.work_groups_ensure(community=w.community)


@case("volunteers.volunteer_groups_set", A.VOLUNTEER_GROUPS)
def _volunteer_groups_set(w: World) -> Callable[[], object]:
    volunteer = _volunteer(w)
    return lambda: volunteers_services.volunteer_groups_set(
        volunteer=volunteer, codes=["supplies", "patrol"], actor=w.secretary
    )


@case("volunteers.work_group_lead_set", A.WORK_GROUP_LEAD)
def _work_group_lead_set(w: World) -> Callable[[], object]:
    group = _supplies_group(w)
    return lambda: volunteers_services.work_group_lead_set(group=group, lead=w.secretary, actor=w.secretary)


@case("volunteers.volunteer_test_record", A.VOLUNTEER_TEST)
def _volunteer_test_record(w: World) -> Callable[[], object]:
    volunteer = _volunteer(w)
    return lambda: volunteers_services.volunteer_test_record(
        volunteer=volunteer, tested_at=_now() - dt.timedelta(minutes=5), result="negative", actor=w.secretary
    )


def _supplies_group(w: World) -> WorkGroup:
    volunteers_services.work_groups_ensure(community=w.community)
    return WorkGroup.objects.get(community=w.community, code="supplies")


def _new_shift(group: WorkGroup) -> Any:
    start = (_now() + dt.timedelta(hours=1)).replace(second=0, microsecond=0)
    shift, _ = volunteers_services.shift_create(
        group=group, post="gate", starts_at=start, ends_at=start + dt.timedelta(hours=2), actor=None
    )
    return shift


def _shift(w: World) -> Any:
    return _new_shift(_supplies_group(w))


@case("volunteers.shift_create", A.SHIFT_CREATE)
def _shift_create(w: World) -> Callable[[], object]:
    group = _supplies_group(w)
    return lambda: _new_shift(group)


@case("volunteers.shift_assign", A.SHIFT_ASSIGN)
def _shift_assign(w: World) -> Callable[[], object]:
    shift, volunteer = _shift(w), _volunteer(w)
    return lambda: volunteers_services.shift_assign(shift=shift, volunteer=volunteer, actor=w.secretary)


def _assignment(w: World) -> ShiftAssignment:
    shift, volunteer = _shift(w), _volunteer(w)
    return volunteers_services.shift_assign(shift=shift, volunteer=volunteer, actor=w.secretary)


@case("volunteers.shift_unassign", A.SHIFT_UNASSIGN)
def _shift_unassign(w: World) -> Callable[[], object]:
    assignment = _assignment(w)
    return lambda: volunteers_services.shift_unassign(assignment=assignment, actor=w.secretary)


@case("volunteers.swap_request_create", A.SWAP_REQUEST)
def _swap_request_create(w: World) -> Callable[[], object]:
    assignment = _assignment(w)
    return lambda: volunteers_services.swap_request_create(assignment=assignment, actor=w.volunteer, reason="发烧")


@case("volunteers.swap_request_decide", A.SWAP_DECIDE)
def _swap_request_decide(w: World) -> Callable[[], object]:
    swap = volunteers_services.swap_request_create(assignment=_assignment(w), actor=w.volunteer)
    colleague = _volunteer(w, "乙", "13811113303")
    return lambda: volunteers_services.swap_request_decide(
        swap=SwapRequest.objects.get(pk=swap.pk), actor=w.secretary, to=colleague, accept=True
    )


# Auto-fill puts each volunteer through shift_assign: one row per place filled (here one).
@case("volunteers.shifts_autofill", A.SHIFT_ASSIGN)
def _shifts_autofill(w: World) -> Callable[[], object]:
    shift = _shift(w)
    _volunteer(w)
    day = timezone.localtime(shift.starts_at).date()
    return lambda: volunteers_services.shifts_autofill(community=w.community, day=day, actor=w.secretary)


@case("volunteers.roster_export_xlsx", A.ROSTER_EXPORT)
def _roster_export_xlsx(w: World) -> Callable[[], object]:
    _assignment(w)
    return lambda: volunteers_services.roster_export_xlsx(
        community=w.community, day=timezone.localdate(), actor=w.secretary
    )


# --------------------------------------------------------------------------- supplies


def _distribution(w: World, kind: str = "government") -> Distribution:
    return supplies_services.distribution_create(
        community=w.community, name=f"{kind} 第一批", kind=kind, on=DAY, actor=w.secretary, package={"米": 1}
    )


def _allocated(w: World) -> Distribution:
    dist = _distribution(w)
    supplies_services.distribution_allocate(distribution=dist, actor=w.secretary)
    return dist


@case("supplies.distribution_create", A.DISTRIBUTION_CREATE)
def _distribution_create(w: World) -> Callable[[], object]:
    return lambda: _distribution(w)


@case("supplies.distribution_allocate", A.DISTRIBUTION_ALLOCATE)
def _distribution_allocate(w: World) -> Callable[[], object]:
    dist = _distribution(w)
    return lambda: supplies_services.distribution_allocate(distribution=dist, actor=w.secretary)


@case("supplies.group_order_set", A.GROUP_ORDER_SET)
def _group_order_set(w: World) -> Callable[[], object]:
    dist = _distribution(w, "group_purchase")
    household = _wang(w).household
    return lambda: supplies_services.group_order_set(
        distribution=dist, household=household, items={"鸡蛋": 2}, actor=w.secretary
    )


@case("supplies.group_purchase_import", A.GROUP_PURCHASE_IMPORT)
def _group_purchase_import(w: World) -> Callable[[], object]:
    dist = _distribution(w, "group_purchase")
    data = csv_bytes([["楼号", "室号", "商品", "数量"], ["3", "102", "鸡蛋", "2"]])
    return lambda: supplies_services.group_purchase_import(
        distribution=dist, actor=w.secretary, data=data, filename="o.csv"
    )


@case("supplies.delivery_assign", A.DELIVERY_ASSIGN, variant="assign")
def _delivery_assign(w: World) -> Callable[[], object]:
    dist = _allocated(w)
    return lambda: supplies_services.delivery_assign(
        distribution=dist, building=w.b3, volunteer=w.volunteer, actor=w.secretary
    )


@case("supplies.delivery_assign", A.DELIVERY_UNASSIGN, variant="unassign")
def _delivery_unassign(w: World) -> Callable[[], object]:
    dist = _allocated(w)
    supplies_services.delivery_assign(distribution=dist, building=w.b3, volunteer=w.volunteer, actor=w.secretary)
    return lambda: supplies_services.delivery_assign(
        distribution=dist, building=w.b3, volunteer=None, actor=w.secretary
    )


def _delivery(w: World) -> Delivery:
    return Delivery.objects.get(distribution=_allocated(w), household=_wang(w).household)


@case("supplies.delivery_mark", A.DELIVERY_MARK)
def _delivery_mark(w: World) -> Callable[[], object]:
    delivery = _delivery(w)
    return lambda: supplies_services.delivery_mark(delivery_id=delivery.pk, actor=w.volunteer, today=DAY)


@case("supplies.delivery_undo", A.DELIVERY_UNDO)
def _delivery_undo(w: World) -> Callable[[], object]:
    delivery = _delivery(w)
    supplies_services.delivery_mark(delivery_id=delivery.pk, actor=w.volunteer, today=DAY)
    return lambda: supplies_services.delivery_undo(delivery_id=delivery.pk, actor=w.volunteer)


# Every door still waiting becomes a work order: the world has three lived-in households.
@case("supplies.deliveries_sweep", A.DELIVERIES_SWEEP, also={A.WORK_ORDER_CREATE: 3})
def _deliveries_sweep(w: World) -> Callable[[], object]:
    dist = _allocated(w)
    return lambda: supplies_services.deliveries_sweep(distribution=dist, actor=w.secretary, on=DAY)


@case("supplies.distribution_close", A.DISTRIBUTION_CLOSE)
def _distribution_close(w: World) -> Callable[[], object]:
    dist = _distribution(w)
    return lambda: supplies_services.distribution_close(distribution=dist, actor=w.secretary)


def _plan(w: World) -> RoutePlan:
    return supplies_services.route_plan_request(
        community=w.community,
        actor=w.secretary,
        building_ids=[w.b3.pk, w.b5.pk],
        volunteer_ids=[w.volunteer.pk],
        capacity=10,
        time_limit_s=0.2,
    )


@case("supplies.route_plan_request", A.ROUTE_PLAN_REQUEST)
def _route_plan_request(w: World) -> Callable[[], object]:
    return lambda: _plan(w)


@case("supplies.route_plan_run", A.ROUTE_PLAN_RUN)
def _route_plan_run(w: World) -> Callable[[], object]:
    place(w)
    plan = _plan(w)
    return lambda: supplies_services.route_plan_run(plan_id=plan.pk)


# --------------------------------------------------------------------------- care


def _profile(w: World) -> CareProfile:
    care_services.care_registry_sync(community=w.community, actor=None)
    return CareProfile.objects.get(resident=_wang(w))


def _schedule(w: World, profile: CareProfile, weekday: int = 1) -> TreatmentSchedule:
    return care_services.treatment_schedule_set(
        profile_id=profile.pk, actor=w.secretary, kind="dialysis", weekdays=str(weekday), at=dt.time(9), hospital="H"
    )


@case("care.care_registry_sync", A.CARE_SYNC)
def _care_registry_sync(w: World) -> Callable[[], object]:
    return lambda: care_services.care_registry_sync(community=w.community, actor=w.secretary)


@case("care.care_profile_update", A.CARE_PROFILE_UPDATE)
def _care_profile_update(w: World) -> Callable[[], object]:
    profile = _profile(w)
    return lambda: care_services.care_profile_update(profile_id=profile.pk, actor=w.secretary, note="女儿每周来一次")


@case("care.treatment_schedule_set", A.CARE_SCHEDULE_SET)
def _treatment_schedule_set(w: World) -> Callable[[], object]:
    profile = _profile(w)
    return lambda: _schedule(w, profile)


@case("care.treatment_schedule_stop", A.CARE_SCHEDULE_STOP)
def _treatment_schedule_stop(w: World) -> Callable[[], object]:
    schedule = _schedule(w, _profile(w))
    return lambda: care_services.treatment_schedule_stop(schedule_id=schedule.pk, actor=w.secretary)


# The escort is a work order: one session within the lead time (Tuesday 09:00 seen from Monday 10:00).
@case("care.care_escorts_ensure", A.CARE_ESCORT_ORDER, also={A.WORK_ORDER_CREATE: 1})
def _care_escorts_ensure(w: World) -> Callable[[], object]:
    _schedule(w, _profile(w), weekday=2)
    monday = timezone.make_aware(dt.datetime(2022, 4, 11, 10, 0))
    return lambda: care_services.care_escorts_ensure(community=w.community, now=monday, actor=None)


@case("care.checkin_record", A.CARE_CHECKIN)
def _checkin_record(w: World) -> Callable[[], object]:
    profile = _profile(w)
    return lambda: care_services.checkin_record(profile_id=profile.pk, actor=w.volunteer, status="ok", on=DAY)


# 王秀英 gave no answer: she gets an urgent work order.
@case("care.care_checkins_close", A.CARE_CHECKINS_CLOSE, also={A.WORK_ORDER_CREATE: 1})
def _care_checkins_close(w: World) -> Callable[[], object]:
    _profile(w)
    return lambda: care_services.care_checkins_close(community=w.community, actor=None, on=DAY)


def _medicine(w: World) -> MedicineRequest:
    return care_services.medicine_request_create(
        resident=_wang(w), actor=w.secretary, medicines=[{"name": "硝苯地平", "dose": "10mg"}], pharmacy="社区医院"
    )


@case("care.medicine_request_create", A.MEDICINE_REQUEST)
def _medicine_request_create(w: World) -> Callable[[], object]:
    return lambda: _medicine(w)


# A trip is a work order for a volunteer.
@case("care.medicine_trips_batch", A.MEDICINE_TRIP, also={A.WORK_ORDER_CREATE: 1})
def _medicine_trips_batch(w: World) -> Callable[[], object]:
    _medicine(w)
    return lambda: care_services.medicine_trips_batch(community=w.community, actor=w.secretary)


@case("care.medicine_request_deliver", A.MEDICINE_DELIVER)
def _medicine_request_deliver(w: World) -> Callable[[], object]:
    request = _medicine(w)
    return lambda: care_services.medicine_request_deliver(request_id=request.pk, actor=w.volunteer)


@case("care.medicine_request_cancel", A.MEDICINE_CANCEL)
def _medicine_request_cancel(w: World) -> Callable[[], object]:
    request = _medicine(w)
    return lambda: care_services.medicine_request_cancel(request_id=request.pk, actor=w.secretary)


# --------------------------------------------------------------------------- the tests


def _public_services() -> set[str]:
    names = set()
    for module in SERVICE_MODULES:
        app = module.__name__.split(".")[1]
        exported = set(getattr(module, "__all__", ()))
        for name, obj in vars(module).items():
            if name.startswith("_") or not inspect.isfunction(obj):
                continue
            if name.endswith("_in_transaction"):  # the same function as its durable public name, covered there
                continue
            if obj.__module__ == module.__name__ or name in exported:
                names.add(f"{app}.{name}")
    return names


def test_every_service_is_in_the_table() -> None:
    """A new public function in a services module needs a case here (or a place in READ_ONLY)."""
    public = _public_services()
    covered = {c.service for c in CASES.values()}
    assert sorted(public - covered - READ_ONLY) == [], "add a case to CASES or the name to READ_ONLY"
    assert sorted((covered | READ_ONLY) - public) == [], "the table names a service that no longer exists"
    assert not covered & READ_ONLY


def _sensitive_values() -> set[str]:
    values = set(Resident.objects.exclude(id_number="").values_list("id_number", flat=True))
    values |= set(Resident.objects.exclude(phone="").values_list("phone", flat=True))
    values |= set(Volunteer.objects.values_list("phone", flat=True))
    values |= set(User.objects.exclude(phone="").values_list("phone", flat=True))
    values |= set(ResidentRequest.objects.exclude(contact_phone="").values_list("contact_phone", flat=True))
    values |= {"13800001234"}  # typed into notes, reasons and a file name above
    return values


@pytest.mark.parametrize("name", sorted(CASES))
def test_each_writing_service_leaves_its_audit_rows(world: World, name: str, settings: Any, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.FANGZHOU_ROUTE_TIME_LIMIT_S = 0.2
    audited = CASES[name]
    call = audited.run(world)
    before = AuditLog.objects.order_by("-id").values_list("id", flat=True).first() or 0
    call()
    rows = list(AuditLog.objects.filter(id__gt=before))
    assert dict(Counter(AuditAction(r.action) for r in rows)) == audited.expect
    own = [r for r in rows if r.action == next(iter(audited.expect))]
    assert all(r.target_type and r.target_id for r in own)
    secrets = _sensitive_values()
    for row in AuditLog.objects.all():  # the setup's rows too
        text = json.dumps(row.detail, ensure_ascii=False) + row.target_id
        assert not [s for s in secrets if s in text], (row.action, row.detail)


@pytest.mark.django_db
def test_a_detail_with_an_unmasked_id_number_or_phone_is_refused() -> None:
    id_number = make_id("310104", dt.date(1980, 5, 17), 1, True)
    for detail in (
        {"phone": "13800001234"},
        {"id_number": id_number},
        {"changes": {"phone": ["", "13800001234"]}},
        {"note": f"证件 {id_number}"},
        {"note": "请回电 +8613800001234"},
        {"changes": {"id_number": ["E1234567", "E7654321"]}},  # a passport: refused by its key
    ):
        with pytest.raises(SensitiveDetail):
            audit_record(action=A.RESIDENT_UPDATE, actor=None, target_type="resident", target_id=1, detail=detail)
    masked_row = audit_record(
        action=A.RESIDENT_UPDATE,
        actor=None,
        target_type="resident",
        target_id=1,
        detail={"changes": {"phone": ["139****5678", "138****1234"], "id_number": ["3101**********1234", ""]}},
    )
    assert masked_row.pk is not None
    wrong_check = id_number[:17] + ("0" if id_number[17] != "0" else "1")
    codes = audit_record(
        action=A.RESULTS_IMPORT,
        actor=None,
        target_type="round",
        target_id=1,
        detail={"filename": f"批次{wrong_check}.csv", "positive_tubes": ["13800001234", "310104198005170023"]},
    )
    assert codes.detail["positive_tubes"] == ["13800001234", "310104198005170023"]  # tube codes, not people
    with pytest.raises(SensitiveDetail):
        audit_record_many(
            [AuditLog(action=A.RESIDENT_UPDATE, target_type="resident", target_id="1", detail={"phone": "13800001234"})]
        )
    assert masked(f"回电 13800001234，证件 {id_number}") == "回电 138****1234，证件 3101**********" + id_number[-4:]
    assert masked(wrong_check) == wrong_check
    assert AuditLog.objects.count() == 2


@pytest.mark.django_db
def test_an_action_outside_the_enumeration_is_refused() -> None:
    with pytest.raises(ValueError):
        audit_record(action="resident.peek", actor=None, target_type="resident", target_id=1)  # type: ignore[arg-type]
    rows = audit_record_many(
        [audit_row(action=A.RESIDENT_UPDATE, actor=None, target_type="resident", target_id=i) for i in (1, 2)]
    )
    assert [r.action for r in rows] == ["resident.update"] * 2


def test_stored_action_strings_are_unchanged_and_labelled_in_both_languages() -> None:
    assert A.RESIDENT_UNMASK == "resident.unmask" and A.USER_CREATE == "user.create"
    assert A.ROSTER_IMPORT_DRY_RUN == "roster.import.dry_run"
    assert len(set(A.values)) == len(A.values)
    with translation.override("en"):
        english = {m: str(m.label) for m in A}
    with translation.override("zh-hans"):
        chinese = {m: str(m.label) for m in A}
    assert english[A.RESIDENT_UNMASK] == "Resident's ID number or phone shown"
    assert chinese[A.RESIDENT_UNMASK] == "查看居民证件号码或手机号"
    assert [m.value for m in A if chinese[m] == english[m]] == []


def test_no_code_but_the_audit_module_creates_audit_rows() -> None:
    root = Path(__file__).resolve().parents[1]
    writes = re.compile(
        r"(?<!class )\bAuditLog\(|AuditLog\.objects\.(?:create|bulk_create|get_or_create|update_or_create)\b"
    )
    offenders = []
    for path in root.rglob("*.py"):
        relative = path.relative_to(root).as_posix()
        if relative == "accounts/audit.py" or any(part in {"migrations", "tests"} for part in path.parts):
            continue
        if writes.search(path.read_text(encoding="utf-8")):
            offenders.append(relative)
    assert offenders == []


def test_work_order_event_stays_the_orders_timeline(world: World) -> None:
    """Volunteers read an order's events; the audit log has one row per transition beside them."""
    order = _order(world)
    workorders_services.work_order_claim(order_id=order.pk, actor=world.secretary)
    workorders_services.work_order_transition(order_id=order.pk, actor=world.secretary, action="done")
    events = list(order.events.values_list("from_status", "to_status"))
    assert events == [("", "open"), ("open", "claimed"), ("claimed", "done")]
    actions = list(
        AuditLog.objects.filter(target_type="work_order", target_id=str(order.pk))
        .order_by("id")
        .values_list("action", flat=True)
    )
    assert actions == ["work_order.create", "work_order.claim", "work_order.done"]


def test_cases_and_households_used_above_exist(world: World) -> None:
    """The table's setups lean on the world: 王秀英 alone in 102, three lived-in households."""
    assert Resident.objects.filter(household=_wang(world).household).count() == 1
    assert (
        Household.objects.filter(building__community=world.community, residents__isnull=False).distinct().count() == 3
    )
    assert not Case.objects.exists()
