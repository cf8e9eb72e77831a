"""The whole loop of a mass PCR round: new round, pooled sampling, lab file, re-tests, confirmed case."""

from __future__ import annotations

import datetime as dt

import pytest

from fangzhou.cases.models import Case
from fangzhou.registry.models import Resident
from fangzhou.registry.tests.factories import World
from fangzhou.testing import selectors
from fangzhou.testing.models import LabResult, Retest, Sample, Tube, TubeKind
from fangzhou.testing.services import (
    TestingError,
    manifest_csv,
    results_import,
    round_create,
    sample_take,
    tube_close,
)
from fangzhou.testing.tests.helpers import DAY, csv_bytes
from fangzhou.workorders.models import WorkOrder

pytestmark = pytest.mark.django_db

HEADER = ["试管编码", "检测结果", "ORF1ab Ct", "N Ct", "检测时间"]


def _tube_of(resident: Resident) -> Tube:
    return Sample.objects.get(resident=resident, kind=TubeKind.POOLED).tube


def test_whole_loop(world: World) -> None:
    zhang, li, wang, liu = (world.resident(n) for n in ("张伟", "李娜", "王秀英", "刘洋"))
    rnd = round_create(community=world.community, date=DAY, pool_size=3, actor=world.secretary)

    # Household 3-101 (two people) goes into one tube; 3-102 (one) fills it; 5-201 opens a new one.
    first = sample_take(round=rnd, residents=[zhang, li], actor=world.secretary, station="s1", tube_code="T-0001")
    assert first.tube.code == "T-0001" and first.tube.status == Tube.Status.OPEN
    second = sample_take(round=rnd, residents=[wang], actor=world.secretary, station="s1")
    assert second.tube.code == "T-0001" and second.closed == ["T-0001"]  # full at 3: closed at once
    third = sample_take(round=rnd, residents=[liu], actor=world.secretary, station="s1", tube_code="T-0002")
    assert third.tube.code == "T-0002"
    tube_close(tube=third.tube, actor=world.secretary)

    # Sampled twice in pooled sampling: refused, in both languages, naming the person and tube.
    with pytest.raises(TestingError) as refused:
        sample_take(round=rnd, residents=[zhang], actor=world.secretary, station="s2")
    assert "张伟" in refused.value.zh and "T-0001" in refused.value.zh and "already sampled" in refused.value.en

    counts = selectors.round_counts(world.secretary, rnd)
    assert (counts.total.expected, counts.total.sampled, counts.total.missing) == (4, 4, 0)
    manifest = manifest_csv(round=rnd)
    assert "T-0001" in manifest and ",3," in manifest and "张伟" not in manifest and "3101" not in manifest

    # Lab file: T-0001 positive, T-0002 invalid.
    lab = csv_bytes([HEADER, ["T-0001", "阳性", "28.1", "30.2", "2022-04-12 20:00"], ["T-0002", "无效", "", "", ""]])
    report = results_import(round=rnd, data=lab, filename="lab.csv", actor=world.secretary).as_dict()
    assert report["tubes"] == 2 and report["positive_tubes"] == ["T-0001"] and report["invalid_tubes"] == ["T-0002"]
    assert sorted(report["retest"]) == sorted([zhang.id_number, li.id_number, wang.id_number, liu.id_number])
    assert report["rejected"] == []
    pending = {r.resident_id: r for r in Retest.objects.filter(status=Retest.Status.PENDING)}
    assert set(pending) == {zhang.pk, li.pk, wang.pk, liu.pk}
    orders = WorkOrder.objects.filter(kind="retest")
    assert orders.count() == 4 and {o.resident_id for o in orders} == set(pending)
    assert WorkOrder.objects.filter(source_key=f"retest:{rnd.pk}:{zhang.pk}").exists()
    # Pending re-tests are not counted as missing; the door list has all four, in walking order.
    doors = selectors.door_lists(world.secretary, rnd)
    assert sum(len(d.stops) for d in doors) == 4 and all(s.why == "retest" for d in doors for s in d.stops)

    # Re-importing the same file changes nothing.
    again = results_import(round=rnd, data=lab, filename="lab.csv", actor=world.secretary).as_dict()
    assert again["tubes"] == 0 and again["retest"] == [] and again["unchanged"] == 2 and again["rejected"] == []
    assert WorkOrder.objects.filter(kind="retest").count() == 4

    # Single-tube re-tests at the door (a pending resident is accepted although pooled already).
    singles = {}
    for resident in (zhang, li, wang, liu):
        taken = sample_take(round=rnd, residents=[resident], actor=world.secretary, station="door", door_to_door=True)
        assert taken.single and taken.tube.kind == TubeKind.SINGLE and taken.tube.pool_size == 1
        singles[resident.pk] = taken.tube.code
    retest_lab = csv_bytes(
        [
            HEADER,
            [singles[zhang.pk], "positive", "25", "27", "2022-04-13 18:30"],
            [singles[li.pk], "negative", "", "", "2022-04-13 18:30"],
            [singles[wang.pk], "阴性", "", "", "2022-04-13 18:30"],
            [singles[liu.pk], "阴性", "", "", "2022-04-13 18:30"],
        ]
    )
    second_report = results_import(round=rnd, data=retest_lab, filename="r.csv", actor=world.secretary).as_dict()
    assert second_report["confirmed_positive"] == [zhang.id_number]
    assert sorted(second_report["cleared"]) == sorted([li.id_number, wang.id_number, liu.id_number])
    case = Case.objects.get(resident=zhang)
    assert case.report_date == dt.date(2022, 4, 13) and case.source == "pooled_pcr"
    assert Retest.objects.get(resident=zhang, status=Retest.Status.CONFIRMED)
    assert not Retest.objects.filter(status=Retest.Status.PENDING).exists()
    assert selectors.last_negative_test_at(li.pk) is not None
    assert selectors.last_negative_test_at(zhang.pk) is None
    assert LabResult.objects.count() == 6


def test_household_stays_together_and_big_household_splits(world: World) -> None:
    zhang, li, wang = (world.resident(n) for n in ("张伟", "李娜", "王秀英"))
    rnd = round_create(community=world.community, date=DAY, pool_size=2, actor=world.secretary)
    sample_take(round=rnd, residents=[wang], actor=world.secretary, station="s1")
    # The two-person household does not fit the open tube's last place: a new tube, the old one closed.
    taken = sample_take(round=rnd, residents=[zhang, li], actor=world.secretary, station="s1")
    assert _tube_of(zhang) == _tube_of(li) != _tube_of(wang)
    assert _tube_of(wang).status == Tube.Status.CLOSED and taken.tube.status == Tube.Status.CLOSED
    assert Tube.objects.filter(round=rnd, status=Tube.Status.OPEN).count() == 0


def test_pool_size_checked(world: World) -> None:
    with pytest.raises(TestingError):
        round_create(community=world.community, date=DAY, pool_size=0, actor=world.secretary)


def test_last_negative_test_at_uses_antigen_too(world: World) -> None:
    from fangzhou.testing.services import antigen_report_submit

    li = world.resident("李娜")
    assert selectors.last_negative_test_at(li.pk) is None
    antigen_report_submit(household=li.household, day=DAY, results={li.pk: "negative"}, client_id="abcdefgh1234")
    assert selectors.last_negative_test_at(li.pk) is not None


def test_sealed_building_is_sampled_at_the_door_in_a_walking_order(world: World) -> None:
    from fangzhou.cases.services import case_confirm
    from fangzhou.registry.services import PlacedBuilding, site_plan_apply
    from fangzhou.testing.services import round_create

    site_plan_apply(
        community=world.community,
        buildings=[
            PlacedBuilding(world.b3.pk, 30, 30, 30, 10, 6, []),
            PlacedBuilding(world.b5.pk, 30, 90, 30, 10, 6, []),
        ],
    )
    rnd = round_create(community=world.community, date=DAY, pool_size=10, actor=world.secretary)
    assert selectors.door_lists(world.secretary, rnd) == [] or all(
        s.why != "sealed" for d in selectors.door_lists(world.secretary, rnd) for s in d.stops
    )
    # A case reported the day before seals the compound of buildings 3 and 5 on the round's date.
    case_confirm(resident=world.resident("刘洋"), report_date=DAY - dt.timedelta(days=1), source="staff", actor=None)
    doors = selectors.door_lists(world.secretary, rnd)
    sealed = {s.resident.name for d in doors for s in d.stops if s.why == "sealed"}
    assert {"张伟", "李娜", "王秀英"} <= sealed
    assert [d.order for d in doors] == list(range(1, len(doors) + 1))
    assert {d.building.pk for d in doors} == {world.b3.pk, world.b5.pk}
    # A building leader's list holds only their building.
    assert {d.building.pk for d in selectors.door_lists(world.leader, rnd)} == {world.b3.pk}
