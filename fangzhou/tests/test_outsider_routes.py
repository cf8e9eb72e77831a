"""Every non-public route, walked by a signed-in secretary of ANOTHER community.

The walk fills each route's parameters with real ids of the first community's records (the demo's
day of operations: a testing round with a positive tube, a case, volunteers, orders, a distribution,
special care …). Each route must answer 403 or 404 (405 where the method is not served): the
outsider can neither read nor change anything, and is never told whether the record exists. A route
with no id at all (a list, a home page) may answer, but never with the first community's data.

A new route is covered automatically; a new kind of id parameter must be added to ``_ids``.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db.models import Model
from django.test import Client
from django.urls import get_resolver
from django.utils import timezone

from fangzhou.accounts.models import ApiToken, Deputy, Role, Scope, User
from fangzhou.accounts.services import api_token_create, deputy_name, user_upsert
from fangzhou.care.models import CareProfile, MedicineRequest
from fangzhou.cases.models import Case, TransferBatch
from fangzhou.demo import demo_operations
from fangzhou.notices.models import Notice
from fangzhou.notices.services import notice_send
from fangzhou.registry.demo import demo_seed
from fangzhou.registry.models import Building, Community, Household, Resident, ResidentTransfer
from fangzhou.registry.services import community_create
from fangzhou.supplies.models import Delivery, Distribution, RoutePlan
from fangzhou.supplies.services import route_plan_request
from fangzhou.surveys.models import Survey
from fangzhou.testing.models import Retest, Round, Tube
from fangzhou.tests.test_every_route import PUBLIC, _routes
from fangzhou.volunteers.models import Shift, ShiftAssignment, SwapRequest, Volunteer, WorkGroup
from fangzhou.volunteers.services import swap_request_create
from fangzhou.workorders.models import ResidentRequest, WorkOrder
from fangzhou.zones.models import MicroZone, ZoneOverride
from fangzhou.zones.selectors import rule_set_for
from fangzhou.zones.services import microzone_draw, zone_override_create

MULTIPART = object()  # the operation takes a file upload
PARAM = re.compile(r"<(?:(\w+):)?(\w+)>|\{(?:(\w+):)?(\w+)\}")


def _first(model: type[Model], community: Community, lookup: str = "community") -> int:
    obj = model._default_manager.filter(**{lookup: community}).order_by("pk").first()
    assert obj is not None, f"the demo has no {model.__name__} in {community.code}: seed one for the walk"
    return int(obj.pk)


def _ids(community: Community) -> dict[str, Callable[[str], str]]:
    """For each parameter name, the id of a record of ``community`` (the route decides for ``pk``)."""
    c = community

    def pk(route: str) -> str:
        if "requests/" in route:
            return str(_first(ResidentRequest, c))
        if route.startswith(("orders/", "api/orders/")):
            return str(_first(WorkOrder, c))
        if route.startswith(("volunteers/", "api/volunteers/")):
            return str(_first(Volunteer, c))
        raise AssertionError(f"which record does <pk> name in {route}?")

    def request_id(route: str) -> str:
        return str(_first(MedicineRequest, c, "resident__community"))

    fixed: dict[str, int | str] = {
        "building_id": _first(Building, c),
        "household_id": _first(Household, c, "building__community"),
        "resident_id": _first(Resident, c),
        "case_id": _first(Case, c),
        "round_id": _first(Round, c),
        "tube_id": _first(Tube, c, "round__community"),
        "retest_id": _first(Retest, c),
        "assignment_id": _first(ShiftAssignment, c, "shift__community"),
        "shift_id": _first(Shift, c),
        "swap_id": _first(SwapRequest, c, "assignment__shift__community"),
        "group_id": _first(WorkGroup, c),
        "block_id": _first(MicroZone, c),
        "override_id": _first(ZoneOverride, c),
        "distribution_id": _first(Distribution, c),
        "delivery_id": _first(Delivery, c, "distribution__community"),
        "plan_id": _first(RoutePlan, c),
        "batch_id": _first(TransferBatch, c),
        "survey_id": _first(Survey, c),
        "profile_id": _first(CareProfile, c),
        "transfer_id": _first(ResidentTransfer, c, "from_community"),
        "user_id": _first(User, c),
        "token_id": _first(ApiToken, c),
        "deputy_id": _first(Deputy, c),
        "notice_id": _first(Notice, c),
        "code": c.code,
        "subdistrict_id": c.subdistrict_id,
        "day": timezone.localdate().isoformat(),
        "action": "done",
        # Only public routes take these; they are skipped, but the URL is built first.
        "token": "public-token",
        "client_id": "client-id",
        "reference": "reference",
        "kind": "roster",
    }
    table: dict[str, Callable[[str], str]] = {name: (lambda _r, v=value: str(v)) for name, value in fixed.items()}
    table["pk"] = pk
    table["request_id"] = request_id
    return table


def _example(schema: dict[str, Any], components: dict[str, Any]) -> Any:
    """A value that satisfies the schema's shape (so the request reaches the endpoint's own checks)."""
    if "$ref" in schema:
        return _example(components[schema["$ref"].rsplit("/", 1)[-1]], components)
    for key in ("anyOf", "oneOf", "allOf"):
        if key in schema:
            options = [o for o in schema[key] if o.get("type") != "null"] or schema[key]
            return _example(options[0], components)
    if "enum" in schema:
        return schema["enum"][0]
    if "default" in schema:
        return schema["default"]
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        props = schema.get("properties", {})
        return {name: _example(props[name], components) for name in schema.get("required", props)}
    if kind == "array":
        return []
    if kind == "integer":
        return 1
    if kind == "number":
        return 1.0
    if kind == "boolean":
        return True
    fmt = schema.get("format")
    if fmt == "date":
        return timezone.localdate().isoformat()
    if fmt == "date-time":
        return timezone.now().isoformat()
    if fmt == "time":
        return "08:00"
    return "x"


def _api_bodies() -> dict[str, Any]:
    """Path template (``/api/cases/{case_id}``) → an example JSON body for its POST, from the OpenAPI schema."""
    schema = json.loads(Client().get("/api/openapi.json").content)
    components = schema.get("components", {}).get("schemas", {})
    bodies: dict[str, Any] = {}
    for path, operations in schema["paths"].items():
        post = operations.get("post")
        content = (post or {}).get("requestBody", {}).get("content", {})
        if "application/json" in content:
            bodies[path] = _example(content["application/json"]["schema"], components)
        elif "multipart/form-data" in content:
            bodies[path] = MULTIPART
    return bodies


def _concrete(route: str, ids: dict[str, Callable[[str], str]]) -> str:
    route = route.lstrip("^").rstrip("$")

    def fill(match: re.Match[str]) -> str:
        name = match.group(2) or match.group(4)
        assert name in ids, f"no id for <{name}> in {route}: add it to _ids"
        return ids[name](route)

    return "/" + PARAM.sub(fill, route).replace("\\", "")


def _openapi_path(route: str) -> str:
    """``api/cases/<case_id>`` (Django's route) → ``/api/cases/{case_id}`` (the OpenAPI path)."""
    return "/" + PARAM.sub(lambda m: "{" + (m.group(2) or m.group(4)) + "}", route.lstrip("^").rstrip("$"))


@pytest.fixture
def two_communities(db: None) -> tuple[Community, Client]:
    demo_seed(size="small")
    first = Community.objects.get(code="HXDEMO")
    demo_operations(community=first)
    # The demo has no swap, block, route plan or override yet: add one of each through the services.
    _ensure_swap_block_and_override(first)
    other = community_create(code="OTHER1", name="另一居民区", subdistrict_name="华新街道")
    outsider = user_upsert(username="outsider-sec", password="x-long-password-1", role=Role.SECRETARY, community=other)
    # The outsider also holds an API key of their own community with every scope: the machine
    # clients' endpoints (a key, not a session) are walked with it, and must refuse it here too.
    theirs = api_token_create(name="outsider-lab", scopes=Scope.values, community=other, actor=outsider)
    client = Client(HTTP_AUTHORIZATION=f"Bearer {theirs.key}")
    client.force_login(outsider)
    return first, client


def _ensure_swap_block_and_override(community: Community) -> None:
    secretary = User.objects.filter(community=community, role=Role.SECRETARY).first()
    assert secretary is not None
    if not SwapRequest.objects.filter(assignment__shift__community=community).exists():
        assignment = ShiftAssignment.objects.filter(shift__community=community).select_related("shift").first()
        assert assignment is not None
        swap_request_create(assignment=assignment, actor=secretary, reason="家中有事")
    today = timezone.localdate()
    if not MicroZone.objects.filter(community=community).exists():
        compound = community.compounds.order_by("pk").first()
        assert compound is not None
        building = compound.buildings.order_by("pk").first()
        assert building is not None
        microzone_draw(
            compound=compound,
            name="演练块",
            building_ids=[building.pk],
            drawn_on=today,
            actor=secretary,
            accept_cut_off=True,
        )
    if not RoutePlan.objects.filter(community=community).exists():
        volunteer = User.objects.filter(community=community, role=Role.VOLUNTEER).order_by("pk").first()
        assert volunteer is not None
        route_plan_request(
            community=community,
            actor=secretary,
            building_ids=list(community.buildings.values_list("pk", flat=True)[:2]),
            volunteer_ids=[volunteer.pk],
            capacity=20,
            time_limit_s=0.1,
        )
    if not ApiToken.objects.filter(community=community).exists():
        api_token_create(name="演练检测机构", scopes=Scope.values, community=community, actor=secretary)
    if not ResidentTransfer.objects.filter(from_community=community).exists():
        # Another community's roster names one of ours: a move waits for the subdistrict.
        person = Resident.objects.filter(community=community).exclude(id_number="").order_by("pk").first()
        assert person is not None
        elsewhere = community_create(code="ELSE1", name="别处居民区", subdistrict_name="别的街道")
        ResidentTransfer.objects.create(
            resident=person, from_community=community, to_community=elsewhere, compound="甲", building="1", room="101"
        )
    if not Deputy.objects.filter(community=community).exists():
        worker = User.objects.filter(community=community, role=Role.SOCIAL_WORKER).order_by("pk").first()
        assert worker is not None
        deputy_name(actor=secretary, community=community, deputy=worker)
    if not Notice.objects.filter(community=community).exists():
        building = community.buildings.order_by("pk").first()
        assert building is not None
        notice_send(
            community=community,
            kind="sampling_time",
            audience="building",
            audience_args={"building_ids": [building.pk]},
            args={"time": "14:00", "site": "东门"},
            event_key="walk:notice",
            actor=secretary,
        )
    if not ZoneOverride.objects.filter(community=community).exists():
        compound = community.compounds.order_by("pk").first()
        zone_override_create(
            community=community,
            actor=secretary,
            status=rule_set_for(community).statuses[1],
            reason="演练",
            since=today,
            until=today + dt.timedelta(days=3),
            compound=compound,
        )


@pytest.mark.django_db
def test_no_route_serves_a_secretary_of_another_community(two_communities: tuple[Community, Client]) -> None:
    first, client = two_communities
    ids = _ids(first)
    markers = [first.name, *Resident.objects.filter(community=first).order_by("pk").values_list("name", flat=True)[:5]]
    routes = sorted(set(_routes(get_resolver())))
    # The committee's page of the end of the emergency (and its two writes) is walked like the rest.
    assert {"ops/c/<str:code>/emergency/", "ops/c/<str:code>/emergency/end/"} <= set(routes)
    bodies = _api_bodies()
    with_ids = without_ids = 0
    failures: list[str] = []
    for route in routes:
        url = _concrete(route, ids)
        if any(re.search(p, url.lstrip("/")) for p in PUBLIC):
            continue
        has_ids = bool(PARAM.search(route))
        body = bodies.get(_openapi_path(route))
        for method in ("get", "post"):
            if method == "post" and body is MULTIPART:
                upload = SimpleUploadedFile("sheet.csv", "姓名,证件号码\n张三,x\n".encode(), content_type="text/csv")
                response = client.post(url, data={"file": upload})
            elif method == "post" and body is not None:
                response = client.post(url, data=json.dumps(body), content_type="application/json")
            else:
                response = getattr(client, method)(url)
            status = response.status_code
            if has_ids:
                if status not in {403, 404, 405}:
                    failures.append(f"{method.upper()} {url} → {status}")
            else:
                text = response.content.decode("utf-8", "replace")
                leaked = [m for m in markers if m and m in text]
                if status >= 500 or leaked:
                    failures.append(f"{method.upper()} {url} → {status} {leaked}")
        with_ids += has_ids
        without_ids += not has_ids
    assert not failures, "\n".join(failures)
    assert with_ids > 100  # the walk really reached the apps' routes with ids
