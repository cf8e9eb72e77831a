"""Zone status from case facts: the command, the page and the API classify exactly as the rules say."""

from __future__ import annotations

import datetime as dt
import io
import json
from contextlib import redirect_stdout
from typing import Any

import pytest
from django.test import Client

from fangzhou.cases.services import case_confirm
from fangzhou.cli import main
from fangzhou.registry.tests.factories import World
from fangzhou.zones.services import microzone_draw, zone_override_create, zone_rules_set

pytestmark = pytest.mark.django_db
D = dt.date


def oracle(rule: str, cases: list[dt.date], t: dt.date) -> str:
    """The rules as the issue words them, independent of the core."""
    known = [d for d in cases if d <= t]
    if rule == "shanghai-2022-04":
        if any(t - dt.timedelta(days=6) <= d <= t for d in known):
            return "sealed"
        if any(t - dt.timedelta(days=13) <= d <= t for d in known):
            return "controlled"
        return "prevention"
    names = ("sealed", "controlled", "prevention") if rule == "shanghai-2022-05" else ("high", "medium", "low")
    if not known:
        return names[2]
    d = max(known)
    if t <= d + dt.timedelta(days=6):
        return names[0]
    if t <= d + dt.timedelta(days=9):
        return names[1]
    return names[2]


def oracle_next(rule: str, cases: list[dt.date], t: dt.date) -> tuple[str | None, str | None]:
    known = [d for d in cases if d <= t]
    now = oracle(rule, known, t)
    for i in range(1, 40):
        day = t + dt.timedelta(days=i)
        later = oracle(rule, known, day)
        if later != now:
            return day.isoformat(), later
    return None, None


def run(*argv: str) -> dict[str, Any]:
    out = io.StringIO()
    with redirect_stdout(out):
        code = main(list(argv))
    assert code == 0, out.getvalue()
    data: dict[str, Any] = json.loads(out.getvalue())
    return data


def confirm(world: World, name: str, day: dt.date) -> None:
    case_confirm(resident=world.resident(name), report_date=day, source="pooled_pcr", actor=None)


@pytest.fixture
def cases(world: World) -> dict[str, list[dt.date]]:
    confirm(world, "张伟", D(2022, 4, 1))  # building 3
    confirm(world, "王秀英", D(2022, 4, 9))  # building 3
    confirm(world, "刘洋", D(2022, 4, 20))  # building 5
    return {"3": [D(2022, 4, 1), D(2022, 4, 9)], "5": [D(2022, 4, 20)]}


@pytest.mark.parametrize("rule", ["shanghai-2022-04", "shanghai-2022-05", "national-9"])
def test_command_classifies_every_date_as_the_rules_say(
    world: World, cases: dict[str, list[dt.date]], rule: str
) -> None:
    everything = cases["3"] + cases["5"]
    day = D(2022, 3, 30)
    while day <= D(2022, 5, 12):
        data = run("zones", "status", "--community", "T01", "--on", day.isoformat(), "--rules", rule, "--json")
        assert set(data) == {"compounds", "microzones", "buildings"}
        (compound,) = data["compounds"]
        assert set(compound) == {"name", "status", "last_case_on", "next_change_on", "next_status", "held_by"}
        assert compound["name"] == "阳光小区"
        assert compound["status"] == oracle(rule, everything, day), day
        assert (compound["next_change_on"], compound["next_status"]) == oracle_next(rule, everything, day), day
        known = [d for d in everything if d <= day]
        assert compound["last_case_on"] == (max(known).isoformat() if known else None)
        buildings = {b["building"]: b for b in data["buildings"]}
        # No block drawn: every building takes the compound's status.
        assert buildings["3号楼"]["status"] == buildings["5号楼"]["status"] == compound["status"]
        assert buildings["3号楼"]["cases"] == len([d for d in cases["3"] if d <= day])
        day += dt.timedelta(days=1)


def test_the_community_setting_picks_the_rules_and_changing_it_recomputes(
    world: World, cases: dict[str, list[dt.date]]
) -> None:
    on = "2022-04-28"  # 8 days after the last case
    assert run("zones", "status", "--community", "T01", "--on", on, "--json")["compounds"][0]["status"] == "controlled"
    zone_rules_set(community=world.community, rule_set="national-9", actor=world.secretary)
    assert run("zones", "status", "--community", "T01", "--on", on, "--json")["compounds"][0]["status"] == "medium"
    zone_rules_set(community=world.community, rule_set="shanghai-2022-05", actor=world.secretary)
    data = run("zones", "status", "--community", "T01", "--on", "2022-04-30", "--json")
    # 2022-04-30 is d+10: prevention under the May rules, still controlled under April's.
    assert data["compounds"][0]["status"] == "prevention"
    again = run("zones", "status", "--community", "T01", "--on", "2022-04-30", "--rules", "shanghai-2022-04", "--json")
    assert again["compounds"][0]["status"] == "controlled"


def test_a_block_takes_its_cases_and_the_rest_of_the_compound_follows_its_own(
    world: World, cases: dict[str, list[dt.date]]
) -> None:
    microzone_draw(
        compound=world.b3.compound,
        name="A块",
        building_ids=[world.b3.pk],
        drawn_on=D(2022, 4, 1),
        actor=world.secretary,
    )
    data = run("zones", "status", "--community", "T01", "--on", "2022-04-12", "--json")
    (compound,) = data["compounds"]
    (block,) = data["microzones"]
    assert block["name"] == "A块" and block["status"] == "sealed" and block["last_case_on"] == "2022-04-09"
    # The compound proper has no case of its own until building 5's on 04-20, but while its block
    # is sealed (to 04-15) it is held at controlled: people do not leave the compound.
    assert compound["status"] == "controlled" and compound["last_case_on"] is None
    assert compound["held_by"] == "A块" and compound["next_change_on"] == "2022-04-16"
    buildings = {b["building"]: b for b in data["buildings"]}
    assert buildings["3号楼"]["status"] == "sealed" and buildings["3号楼"]["zone"] == "A块"
    assert buildings["5号楼"]["status"] == "controlled" and buildings["5号楼"]["zone"] is None
    assert buildings["5号楼"]["held_by"] == "A块"
    stepped = run("zones", "status", "--community", "T01", "--on", "2022-04-16", "--json")
    assert stepped["microzones"][0]["status"] == "controlled" and stepped["compounds"][0]["status"] == "prevention"
    later = run("zones", "status", "--community", "T01", "--on", "2022-04-21", "--json")
    assert later["compounds"][0]["status"] == "sealed"
    assert later["microzones"][0]["status"] == "controlled"  # 12 days after 04-09


def test_override_is_shown_as_such_and_expires(world: World, cases: dict[str, list[dt.date]]) -> None:
    zone_override_create(
        community=world.community,
        actor=world.secretary,
        status="sealed",
        reason="街道通知延长封控",
        since=D(2022, 4, 27),
        until=D(2022, 5, 2),
        compound=world.b3.compound,
    )
    during = run("zones", "status", "--community", "T01", "--on", "2022-04-29", "--json")
    assert during["compounds"][0]["status"] == "sealed"
    assert during["compounds"][0]["next_change_on"] == "2022-05-03"
    assert during["buildings"][0]["overridden"] is True
    text = io.StringIO()
    with redirect_stdout(text):
        main(["zones", "status", "--community", "T01", "--on", "2022-04-29"])
    assert "街道通知延长封控" in text.getvalue() and "sec" in text.getvalue()
    after = run("zones", "status", "--community", "T01", "--on", "2022-05-03", "--json")
    assert after["compounds"][0]["status"] == oracle("shanghai-2022-04", cases["3"] + cases["5"], D(2022, 5, 3))


def test_bad_input_is_refused_with_exit_2(world: World) -> None:
    for argv in (
        ["zones", "status", "--community", "NOPE"],
        ["zones", "status", "--community", "T01", "--on", "28/04/2022"],
        ["zones", "status", "--community", "T01", "--rules", "wuhan"],
    ):
        assert main(argv) == 2


def test_page_shows_the_same_status_and_countdown(world: World, cases: dict[str, list[dt.date]]) -> None:
    client = Client()
    client.force_login(world.secretary)
    compound_id = world.b3.compound_id
    for day in (D(2022, 4, 5), D(2022, 4, 18), D(2022, 4, 25), D(2022, 5, 8)):
        for rule in ("shanghai-2022-04", "shanghai-2022-05", "national-9"):
            response = client.get(f"/zones/c/T01/?on={day.isoformat()}&rules={rule}")
            assert response.status_code == 200
            html = response.content.decode()
            expected = oracle(rule, cases["3"] + cases["5"], day)
            assert f'id="zone-c{compound_id}" data-status="{expected}"' in html, (day, rule)
    response = client.get("/zones/c/T01/?on=2022-04-25")
    html = response.content.decode()
    # 5 days after the last case: sealed, 2 days to the downgrade on 04-27.
    assert "2022-04-27" in html and 'id="days-without-case">5<' in html
    assert client.get("/zones/c/T01/?on=yesterday").status_code == 400


def test_the_optional_clean_round_gate_holds_a_downgrade_without_a_clean_round(
    world: World, cases: dict[str, list[dt.date]]
) -> None:
    zone_rules_set(community=world.community, rule_set="national-9", actor=world.secretary, clean_round_gate=True)
    # 04-28 is d+8 after the last case: medium without the gate; with it and no closed round, held at high.
    data = run("zones", "status", "--community", "T01", "--on", "2022-04-28", "--json")
    assert data["compounds"][0]["status"] == "high" and data["compounds"][0]["next_change_on"] is None
    zone_rules_set(community=world.community, rule_set="national-9", actor=world.secretary, clean_round_gate=False)
    assert (
        run("zones", "status", "--community", "T01", "--on", "2022-04-28", "--json")["compounds"][0]["status"]
        == "medium"
    )
