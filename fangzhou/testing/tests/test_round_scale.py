"""A city round's imports at scale: streamed into the database, statements constant in the number of tubes.

The speed itself is measured by ``bench/round_import.py`` (never a timed test); here, what a user
would notice if the streaming or the set-based writes were wrong: rows of one tube or person apart
checked as if the file were read whole, the same re-tests, orders and audit rows as one by one, and
a statement count that does not grow with the round.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.db import IntegrityError, connection
from django.test.utils import CaptureQueriesContext

from fangzhou.accounts.models import AuditLog, User
from fangzhou.lib.sheets import iter_table, read_table
from fangzhou.registry.models import Building, Household, Resident
from fangzhou.registry.tests.factories import World, make_id
from fangzhou.testing import services
from fangzhou.testing.models import LabResult, Retest, Round, Sample, Tube
from fangzhou.testing.services import results_import, round_create, samples_import
from fangzhou.testing.tests.helpers import DAY, csv_bytes
from fangzhou.workorders.models import Priority, WorkOrder

pytestmark = pytest.mark.django_db


def _people(world: World, n: int, tag: int) -> list[Resident]:
    building = Building.objects.filter(community=world.community).first()
    assert building is not None
    household = Household.objects.create(building=building, room=f"9{tag:02d}")
    return [
        Resident.objects.create(
            community=world.community,
            household=household,
            name=f"居民{tag}-{k}",
            id_number=make_id("310199", dt.date(1980, 1, 1) + dt.timedelta(days=tag * 50 + k), k % 400, True),
        )
        for k in range(n)
    ]


def _samples(people: list[Resident], per_tube: int, prefix: str) -> bytes:
    rows = [["试管编码", "证件号码", "姓名", "采样时间", "采样点"]]
    rows += [
        [f"{prefix}{k // per_tube:04d}", p.id_number, p.name, "2022-04-12 08:00", ""] for k, p in enumerate(people)
    ]
    return csv_bytes(rows)


def _results(codes: list[str], positive: set[str]) -> bytes:
    rows = [["试管编码", "检测结果", "检测时间"]]
    rows += [[c, "阳性" if c in positive else "阴性", "2022-04-12 20:00"] for c in codes]
    return csv_bytes(rows)


def test_rows_apart_are_checked_as_one_file(world: World) -> None:
    zhang, li, wang = (world.resident(n) for n in ("张伟", "李娜", "王秀英"))
    rnd = round_create(community=world.community, date=DAY, pool_size=10, actor=None)
    data = csv_bytes(
        [
            ["试管编码", "证件号码", "姓名", "采样时间", "采样点"],
            ["A0001", zhang.id_number, "张伟", "2022-04-12 08:01", "北广场"],
            ["A0002", wang.id_number, "王秀英", "", ""],
            ["A0001", li.id_number, "李娜", "2022-04-12 08:05", "北广场"],  # the same tube, rows apart
            ["A0001", li.id_number, "李娜", "2022-04-12 08:05", "北广场"],  # row 5: duplicate of row 4
            ["A0003", zhang.id_number, "张伟", "", ""],  # row 6: already in A0001 (row 2)
        ]
    )
    report = samples_import(round=rnd, data=data, filename="s.csv", actor=None)
    assert {r.row: r.reason_en for r in report.rejected} == {
        5: "duplicate of row 4",
        6: "resident already in tube A0001 (row 2)",
    }
    assert report.tubes == 2 and report.samples == 3
    a1 = Tube.objects.get(code="A0001")
    assert set(a1.samples.values_list("resident_id", flat=True)) == {zhang.pk, li.pk}
    assert a1.closed_at is not None and a1.closed_at.minute == 5  # the latest sample of the tube, rows apart
    again = samples_import(round=rnd, data=data, filename="s.csv", actor=None)
    assert again.samples == 0 and again.unchanged == 3
    lab = _results(["A0001", "A0002", "A0001"], {"A0002"})
    done = results_import(round=rnd, data=lab, filename="l.csv", actor=None)
    assert done.tubes == 2 and done.positive_tubes == ["A0002"]
    assert [(r.row, r.reason_en) for r in done.rejected] == [(4, "duplicate of row 2")]
    assert list(Retest.objects.values_list("resident_id", flat=True)) == [wang.pk]


def _samples_queries(world: World, tubes: int, tag: int) -> tuple[int, Round]:
    people = _people(world, tubes * 4, tag)
    rnd = round_create(community=world.community, date=DAY, pool_size=10, actor=None)
    data = _samples(people, 4, f"T{tag}-")
    with CaptureQueriesContext(connection) as queries:
        report = samples_import(round=rnd, data=data, filename="s.csv", actor=world.secretary)
    assert report.tubes == tubes and report.samples == tubes * 4 and not report.rejected
    assert Sample.objects.filter(round=rnd, taken_by=world.secretary).count() == tubes * 4
    return len(queries), rnd


def test_samples_import_statements_do_not_grow_with_the_tubes(world: World) -> None:
    small, _ = _samples_queries(world, 10, 1)
    large, _ = _samples_queries(world, 40, 2)
    assert large == small


def _results_queries(world: World, tubes: int, positives: int, tag: int) -> int:
    _, rnd = _samples_queries(world, tubes, tag)
    codes = list(Tube.objects.filter(round=rnd).order_by("code").values_list("code", flat=True))
    data = _results(codes, set(codes[:positives]))
    with CaptureQueriesContext(connection) as queries:
        report = results_import(round=rnd, data=data, filename="l.csv", actor=world.secretary)
    assert report.tubes == tubes and len(report.positive_tubes) == positives and len(report.retest) == positives * 4
    assert LabResult.objects.filter(tube__round=rnd).count() == tubes
    assert not Tube.objects.filter(round=rnd).exclude(status=Tube.Status.RESULTED).exists()
    assert Retest.objects.filter(round=rnd).count() == positives * 4
    return len(queries)


def test_results_import_statements_do_not_grow_with_the_tubes_or_the_positives(world: World) -> None:
    small, large = _results_queries(world, 10, 2, 1), _results_queries(world, 40, 6, 2)
    negative = _results_queries(world, 40, 0, 3)  # all negative: no member is read, nobody re-tested
    assert small == large and negative < small, (small, large, negative)


def _positive_round(world: World) -> tuple[Round, list[Resident], bytes]:
    people = _people(world, 6, 7)
    rnd = round_create(community=world.community, date=DAY, pool_size=10, actor=None)
    samples_import(round=rnd, data=_samples(people, 3, "P"), filename="s.csv", actor=None)
    return rnd, people, _results(["P0000", "P0001"], {"P0000", "P0001"})


def _retests_as_one_by_one(rnd: Round, people: list[Resident], actor: User) -> None:
    """What one :func:`retest_open` a resident writes; the set-based writes and the one-by-one
    fallback both pass these."""
    retests = list(
        Retest.objects.filter(round=rnd).select_related(
            "work_order", "source_tube", "resident__household__building__compound"
        )
    )
    assert sorted(r.resident_id for r in retests) == sorted(p.pk for p in people)
    for r in retests:
        assert r.status == Retest.Status.PENDING and r.source_tube is not None and r.reason == "positive_tube"
        assert r.community_id == rnd.community_id and r.created_at is not None
        order = r.work_order
        assert order is not None and order.source_key == f"retest:{rnd.pk}:{r.resident_id}"
        assert order.resident_id == r.resident_id and order.kind == "retest" and order.status == "open"
        household = r.resident.household
        assert (order.household_id, order.building_id) == (household.pk, household.building_id)
        place = household.full_label
        assert order.title == f"上门单采复查：{r.resident.name}（{place}）" and order.title_code == "testing.retest"
        assert order.title_args == {"name": r.resident.name, "place": place} and order.detail == "混采管阳性"
        assert order.priority == Priority.URGENT and order.group == "testing" and order.created_by_id == actor.pk
        assert [(e.from_status, e.to_status, e.note, e.actor_id) for e in order.events.all()] == [
            ("", "open", order.title, actor.pk)
        ]
        opened = AuditLog.objects.get(action="retest.open", target_id=str(r.pk))
        assert opened.detail == {"resident": r.resident_id, "reason": "positive_tube"}
        assert opened.actor_id == actor.pk and opened.community_id == rnd.community_id
        created = AuditLog.objects.get(action="work_order.create", target_id=str(order.pk))
        assert created.detail == {
            "kind": "retest",
            "group": "testing",
            "priority": int(Priority.URGENT),
            "source_key": order.source_key,
        }
        assert created.actor_id == actor.pk and created.community_id == rnd.community_id
    assert AuditLog.objects.filter(action="retest.open").count() == 6
    assert AuditLog.objects.filter(action="work_order.create").count() == 6


def test_positive_tubes_open_retests_with_their_orders_and_audit(world: World) -> None:
    rnd, people, lab = _positive_round(world)
    results_import(round=rnd, data=lab, filename="l.csv", actor=world.secretary)
    _retests_as_one_by_one(rnd, people, world.secretary)
    results_import(round=rnd, data=lab, filename="l.csv", actor=world.secretary)  # a re-import: nothing new
    assert Retest.objects.count() == 6 and WorkOrder.objects.count() == 6


def test_a_clash_with_another_writer_falls_back_to_one_by_one(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    rnd, people, lab = _positive_round(world)

    def clash(*args: object) -> None:
        WorkOrder.objects.create(community=world.community, kind="retest", title="x", group="testing", source_key="x")
        raise IntegrityError("retest_one_pending")

    monkeypatch.setattr(services, "_retests_open_bulk", clash)
    results_import(round=rnd, data=lab, filename="l.csv", actor=world.secretary)
    assert not WorkOrder.objects.filter(source_key="x").exists()  # the savepoint rolled the bulk attempt back
    _retests_as_one_by_one(rnd, people, world.secretary)


@pytest.mark.parametrize("name", ["t.csv", "t.xlsx"])
def test_streamed_rows_are_the_rows_read_whole(name: str) -> None:
    rows = [["试管编码", "证件号码"], *[[f"C{k:05d}", f"3101{k:014d}"] for k in range(2500)]]
    if name.endswith(".csv"):
        data = csv_bytes(rows)
    else:
        import io

        import openpyxl

        book = openpyxl.Workbook()
        for row in rows:
            book.active.append(row)
        out = io.BytesIO()
        book.save(out)
        data = out.getvalue()
    assert list(iter_table(data, name)) == read_table(data, name).rows


def test_a_real_clash_inside_the_set_based_writes_falls_back(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """The unique constraint refuses the set-based insert itself (here a pending re-test written
    between the pending read and the insert, inside the savepoint, as a clash would be): the error
    is the constraint's, not an aborted transaction's, the savepoint rolls everything back (the
    staged tables with it) and every member is opened one by one."""
    rnd, people, lab = _positive_round(world)
    real = services.work_orders_create_many_in_transaction

    def meanwhile(**kwargs: Any) -> int:
        Retest.objects.create(community=world.community, resident=people[0], reason="antigen")
        return real(**kwargs)

    monkeypatch.setattr(services, "work_orders_create_many_in_transaction", meanwhile)
    report = results_import(round=rnd, data=lab, filename="l.csv", actor=world.secretary)
    assert report.tubes == 2 and len(report.retest) == 6
    _retests_as_one_by_one(rnd, people, world.secretary)
