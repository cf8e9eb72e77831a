"""The health gate: the pure rule, and the places that enforce it (shifts, door-to-door claims)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from fangzhou.registry.tests.factories import World
from fangzhou.volunteers import selectors
from fangzhou.volunteers.gate import GateInput, health_gate
from fangzhou.volunteers.models import Post
from fangzhou.volunteers.services import (
    VolunteerError,
    shift_assign,
    shift_create,
    volunteer_test_record,
    work_groups_ensure,
)
from fangzhou.volunteers.tests.helpers import approved
from fangzhou.workorders.models import Kind
from fangzhou.workorders.services import WorkOrderError, work_order_claim, work_order_create

NOW = dt.datetime(2022, 4, 10, 12, 0, tzinfo=dt.UTC)


def gate(**kw: Any) -> Any:
    data = {
        "now": NOW,
        "last_negative_at": NOW - dt.timedelta(hours=5),
        "last_positive_at": None,
        "building_sealed": False,
    }
    data.update(kw)
    return health_gate(GateInput(**data))


def test_fresh_negative_passes() -> None:
    assert gate().ok


def test_no_test_stale_test_positive_and_sealed_each_block_with_a_reason() -> None:
    assert [r.code for r in gate(last_negative_at=None).reasons] == ["no_test"]
    stale = gate(last_negative_at=NOW - dt.timedelta(hours=49))
    assert not stale.ok and "48" in stale.reasons[0].zh and "48 hours" in stale.reasons[0].en
    assert gate(last_negative_at=NOW - dt.timedelta(hours=47)).ok
    positive = gate(last_positive_at=NOW - dt.timedelta(hours=1))
    assert [r.code for r in positive.reasons] == ["positive"]
    # A negative after the positive opens the gate again.
    assert gate(last_positive_at=NOW - dt.timedelta(hours=30)).ok
    sealed = gate(building_sealed=True, building_label="3号楼")
    assert [r.code for r in sealed.reasons] == ["sealed"] and "3号楼" in sealed.reasons[0].zh


def test_the_window_is_a_setting(world: World, settings: Any) -> None:
    v = approved(world.community, "赵一", "13811110001", tested_hours_ago=30)
    assert selectors.volunteer_health(v).ok
    settings.FANGZHOU_VOLUNTEER_TEST_HOURS = 24
    assert not selectors.volunteer_health(v).ok


def _shift(world: World) -> Any:
    group = next(g for g in work_groups_ensure(community=world.community) if g.code == "supplies")
    start = timezone.now() + dt.timedelta(hours=1)
    return shift_create(
        group=group, post=Post.GATE, starts_at=start, ends_at=start + dt.timedelta(hours=4), actor=None
    )[0]


def test_untested_volunteer_cannot_be_put_on_a_shift_and_is_told_why(world: World) -> None:
    v = approved(world.community, "钱二", "13811110002", tested_hours_ago=None)
    shift = _shift(world)
    with pytest.raises(VolunteerError) as err:
        shift_assign(shift=shift, volunteer=v, actor=world.secretary)
    assert "48 小时内没有阴性" in err.value.zh and "no negative test" in err.value.en
    volunteer_test_record(volunteer=v, tested_at=timezone.now() - dt.timedelta(hours=1), result="negative", actor=None)
    assert shift_assign(shift=shift, volunteer=v, actor=world.secretary).volunteer == v


def test_positive_volunteer_is_kept_off(world: World) -> None:
    v = approved(world.community, "孙三", "13811110003")
    volunteer_test_record(
        volunteer=v, tested_at=timezone.now() - dt.timedelta(minutes=5), result="positive", actor=None
    )
    with pytest.raises(VolunteerError, match="positive"):
        shift_assign(shift=_shift(world), volunteer=v, actor=world.secretary)


def test_living_in_a_sealed_building_blocks_shift_and_door_to_door_claim(world: World) -> None:
    from fangzhou.cases.services import case_confirm

    v = approved(world.community, "李四", "13811110004", building=world.b3)
    assert v.user is not None
    assert selectors.volunteer_health(v).ok
    # A case reported today seals building 3's compound under the default rule set.
    case_confirm(resident=world.resident("王秀英"), report_date=timezone.localdate(), source="staff", actor=None)
    result = selectors.volunteer_health(v)
    assert not result.ok and result.reasons[0].code == "sealed"
    with pytest.raises(VolunteerError, match="sealed"):
        shift_assign(shift=_shift(world), volunteer=v, actor=world.secretary)
    door, _created = work_order_create(
        community=world.community, kind=Kind.SUPPLY_DELIVERY, title="送菜", actor=None, building=world.b5
    )
    with pytest.raises(WorkOrderError, match="sealed"):
        work_order_claim(order_id=door.pk, actor=v.user)
    # Work that is not at a door (a patrol round with no place) stays open to them.
    patrol, _created = work_order_create(community=world.community, kind=Kind.PATROL, title="巡逻", actor=None)
    assert work_order_claim(order_id=patrol.pk, actor=v.user).won


def test_a_negative_test_from_the_testing_app_counts_for_a_registered_resident(world: World) -> None:
    from fangzhou.testing.services import antigen_report_submit

    zhang = world.resident("张伟")
    v = approved(world.community, "张伟", zhang.phone, building=world.b3, tested_hours_ago=None)
    assert v.resident_id == zhang.pk
    assert not selectors.volunteer_health(v).ok
    antigen_report_submit(
        household=zhang.household, day=timezone.localdate(), results={zhang.pk: "negative"}, client_id="gate-test-1"
    )
    assert selectors.volunteer_health(v).ok


def test_a_building_sealed_by_a_recent_case_closes_the_gate(world: World) -> None:
    """With the real zones app: a case in building 3 today seals its compound."""
    from fangzhou.cases.services import case_confirm

    v = approved(world.community, "封控", "13811110701", building=world.b3)
    assert selectors.volunteer_health(v).ok
    case_confirm(resident=world.resident("张伟"), report_date=timezone.localdate(), source="staff", actor=None)
    result = selectors.volunteer_health(v)
    assert [r.code for r in result.reasons] == ["sealed"]


# --- the duty roster respects the gate ----------------------------------------------------------


def test_autofill_core_never_puts_someone_who_may_not_serve_on_a_shift() -> None:
    from fangzhou.volunteers import autofill

    t0 = dt.datetime(2022, 4, 10, 8, tzinfo=dt.UTC)
    shift = autofill.OpenShift(id=1, group=7, starts=t0, ends=t0 + dt.timedelta(hours=4), gap=2)
    people = [
        autofill.Person(id=10, groups=frozenset({7}), may_serve=False),
        autofill.Person(id=11, groups=frozenset({7})),
    ]
    assert autofill.solve(autofill.Problem(shifts=[shift], people=people)) == [(1, 11)]
    nobody = [autofill.Person(id=10, groups=frozenset({7}), may_serve=False)]
    assert autofill.solve(autofill.Problem(shifts=[shift], people=nobody)) == []


def test_a_shift_held_only_by_someone_who_may_not_serve_is_a_gap_says_why_and_is_filled(world: World) -> None:
    from django.test import Client

    from fangzhou.volunteers.models import ShiftAssignment
    from fangzhou.volunteers.services import shifts_autofill

    shift = _shift(world)
    sick = approved(world.community, "孙病", "13811117001", groups=("supplies",), tested_hours_ago=3)
    shift_assign(shift=shift, volunteer=sick, actor=world.secretary)
    day = timezone.localdate(shift.starts_at)
    [row] = selectors.roster_day(community=world.community, day=day)
    assert row.gap == 0
    # Later that day their antigen test is positive: the place no longer counts.
    volunteer_test_record(
        volunteer=sick, tested_at=timezone.now() - dt.timedelta(hours=1), result="positive", actor=None
    )
    [row] = selectors.roster_day(community=world.community, day=day)
    assert row.gap == 1 and [p.volunteer.name for p in row.blocked] == ["孙病"]
    client = Client()
    client.force_login(world.secretary)
    page = client.get(f"/volunteers/roster/?date={day.isoformat()}").content.decode()
    assert 'id="gaps">1<' in page and "最近一次检测为阳性" in page and "自动补岗" in page
    client.cookies["django_language"] = "en"
    page = client.get(f"/volunteers/roster/?date={day.isoformat()}").content.decode()
    assert "the latest test is positive" in page and "最近一次检测为阳性" not in page
    assert "Fill the gaps with eligible volunteers" in page
    # Auto-fill puts a healthy member on it, and never the sick one.
    well = approved(world.community, "周好", "13811117002", groups=("supplies",))
    assert shifts_autofill(community=world.community, day=day, actor=world.secretary) == 1
    assert set(ShiftAssignment.objects.filter(shift=shift).values_list("volunteer__name", flat=True)) == {
        "孙病",
        "周好",
    }
    [row] = selectors.roster_day(community=world.community, day=day)
    assert row.gap == 0 and row.serving == 1
    assert well.pk in {p.volunteer.pk for p in row.places if p.serving}


def test_a_volunteer_in_a_sealed_building_is_a_gap_on_the_roster(world: World, monkeypatch: Any) -> None:
    shift = _shift(world)
    home = approved(world.community, "吴封", "13811117003", groups=("supplies",), building=world.b3)
    shift_assign(shift=shift, volunteer=home, actor=world.secretary)
    monkeypatch.setattr(selectors, "sealed_building_ids", lambda community, on: {world.b3.pk})
    [row] = selectors.roster_day(community=world.community, day=timezone.localdate(shift.starts_at))
    assert row.gap == 1 and [r.code for r in row.blocked[0].gate.reasons] == ["sealed"]


def test_a_volunteer_who_may_not_claim_is_told_once_at_the_top_and_the_server_still_refuses(world: World) -> None:
    from django.test import Client

    untested = approved(world.community, "郑未", "13811117010", groups=("supplies",), tested_hours_ago=None)
    door = [
        work_order_create(
            community=world.community, kind=Kind.SUPPLY_DELIVERY, title=f"送菜{n}", actor=None, building=world.b3
        )[0]
        for n in (1, 2)
    ]
    client = Client()
    client.force_login(untested.user)
    page = client.get("/orders/").content.decode()
    # One notice, at the top, before the first card; the reason is in the reader's language.
    assert page.count('id="door-blocked"') == 1 and page.index('id="door-blocked"') < page.index('id="mine"')
    assert "48 小时内没有阴性检测结果" in page and "no negative test" not in page
    for order in door:
        card = page[page.index(f'id="o{order.pk}"') :]
        card = card[: card.index("</article>")]
        assert "disabled" in card and "hx-post" not in card.split("claim", 1)[1].split(">", 1)[0]
    client.cookies["django_language"] = "en"
    assert "no negative test in the last 48 hours" in client.get("/orders/").content.decode()
    # The server still refuses a claim sent anyway.
    refused = client.post(f"/orders/{door[0].pk}/claim/", HTTP_HX_REQUEST="true").content.decode()
    assert "no negative test" in refused
    door[0].refresh_from_db()
    assert door[0].status == "open"
    # After a negative test the notice is gone and the buttons work.
    volunteer_test_record(
        volunteer=untested, tested_at=timezone.now() - dt.timedelta(hours=1), result="negative", actor=None
    )
    page = client.get("/orders/").content.decode()
    assert 'id="door-blocked"' not in page and f'hx-post="/orders/{door[0].pk}/claim/"' in page
