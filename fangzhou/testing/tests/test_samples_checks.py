"""The samples import checks its rows in SQL over a staged table: every rejection reason in the
words the user sees, and the set-based verdicts against a one-row-at-a-time reference (the rules
as they were written before the checks moved into the database) on random files."""

from __future__ import annotations

import datetime as dt
import random
from collections import defaultdict
from typing import Any

import pytest
from django.utils import timezone

from fangzhou.registry.models import Resident
from fangzhou.registry.tests.factories import World
from fangzhou.testing.models import Retest, Round, Sample, Tube, TubeKind
from fangzhou.testing.services import _clean_code, _when, round_create, sample_take, samples_import, site_add
from fangzhou.testing.tests.helpers import DAY, csv_bytes

pytestmark = pytest.mark.django_db

HEADER = ["试管编码", "证件号码", "姓名", "采样时间", "采样点"]


def test_every_rejection_reason_in_both_languages(world: World) -> None:
    zhang, li, wang, liu = (world.resident(n) for n in ("张伟", "李娜", "王秀英", "刘洋"))
    other = round_create(community=world.community, date=DAY, pool_size=10, actor=None)
    samples_import(
        round=other, data=csv_bytes([HEADER, ["OTHER1", liu.id_number, "", "", ""]]), filename="o.csv", actor=None
    )
    rnd = round_create(community=world.community, date=DAY, pool_size=10, actor=None)
    sample_take(round=rnd, residents=[wang], actor=None, station="desk-1", tube_code="DESK01")
    data = csv_bytes(
        [
            HEADER,
            ["", zhang.id_number, "张伟", "", ""],  # 2
            ["B0001", "", "", "", ""],  # 3
            ["B0001", "310104199901010000", "某人", "", ""],  # 4
            ["B0001", zhang.id_number, "张三", "", ""],  # 5
            ["OTHER1", zhang.id_number, "", "", ""],  # 6
            ["B0001", zhang.id_number, "", "明天早上", ""],  # 7
            [" b0001 ", zhang.id_number.lower(), " 张伟 ", "2022/04/12 08:00", "北广场"],  # 8: taken
            ["B0001", zhang.id_number, "张伟", "", ""],  # 9
            ["B0002", zhang.id_number, "张伟", "", ""],  # 10
            ["B0003", wang.id_number, "王秀英", "", ""],  # 11: pooled at the desk already
            ["B0001", li.id_number, "李娜", "2022-04-12T09:15", ""],  # 12: taken
        ]
    )
    report = samples_import(round=rnd, data=data, filename="s.csv", actor=None)
    tube_round = Tube.objects.get(code="OTHER1").round_id
    assert [(r.row, r.column, r.reason_zh, r.reason_en) for r in report.rejected] == [
        (2, "tube", "缺少试管编码", "tube code missing"),
        (3, "id_number", "缺少证件号码", "document number missing"),
        (4, "id_number", "本社区没有此证件号码的居民", "unknown resident"),
        (5, "name", "姓名与登记不符（登记为 张伟）", "name does not match the registry"),
        (6, "tube", f"试管 OTHER1 属于另一轮次（#{tube_round}）", f"tube belongs to round {tube_round}"),
        (7, "sampled_at", "采样时间无法识别", "unreadable sampled_at"),
        (9, "id_number", "与第 8 行重复", "duplicate of row 8"),
        (10, "id_number", "同一居民已在第 8 行的试管 B0001 中", "resident already in tube B0001 (row 8)"),
        (11, "id_number", "本轮已混采（试管 DESK01）", "already sampled in this round (tube DESK01)"),
    ]
    assert report.samples == 2 and report.tubes == 1 and report.rows_read == 11
    tube = Tube.objects.get(code="B0001")
    assert tube.site_label == "北广场" and tube.kind == TubeKind.POOLED and tube.imported
    assert tube.closed_at is not None and timezone.localtime(tube.closed_at).time() == dt.time(9, 15)
    assert not Tube.objects.filter(code="B0003").exists()  # its only row was rejected
    # Re-imported: the taken rows unchanged, a duplicate of a stored row still named as one.
    again = samples_import(round=rnd, data=data, filename="s.csv", actor=None)
    assert again.samples == 0 and again.tubes == 0 and again.unchanged == 2
    assert [(r.row, r.reason_en) for r in again.rejected if r.row in (9, 10)] == [
        (9, "duplicate of row 8"),
        (10, "already sampled in this round (tube B0001)"),
    ]


# --- a one-row-at-a-time reference -------------------------------------------------------------


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _reference(rnd: Round, rows: list[list[str]]) -> tuple[list[tuple[int, str, str]], int, dict[int, str], int]:
    """(rejections as (row, column, reason), unchanged, {resident: tube code} written, tubes opened),
    from the database as it is before the import, one row after another."""
    residents = {
        r.id_number: (r.pk, r.name)
        for r in Resident.objects.filter(community_id=rnd.community_id).exclude(id_number="")
    }
    tubes = {t.code: (t.round_id, t.kind) for t in Tube.objects.all()}
    stored = {(s.tube.code, s.resident_id) for s in Sample.objects.filter(round=rnd).select_related("tube")}
    pooled = {
        s.resident_id: s.tube.code for s in Sample.objects.filter(round=rnd, kind="pooled").select_related("tube")
    }
    pending = set(
        Retest.objects.filter(community_id=rnd.community_id, status="pending").values_list("resident_id", flat=True)
    )
    now = dt.datetime(2022, 4, 12, 12, 0)
    rejected: list[tuple[int, str, str]] = []
    unchanged = 0
    placed: dict[int, tuple[str, int, bool]] = {}
    good: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for row, (tube, doc, name, at, site) in enumerate(rows, start=2):
        if not any(c.strip() for c in (tube, doc, name, at, site)):
            continue  # a blank row is no row
        code, doc, name = _clean_code(_text(tube)), _text(doc).upper(), _text(name)
        found = residents.get(doc)
        if not code:
            rejected.append((row, "tube", "tube code missing"))
        elif not doc:
            rejected.append((row, "id_number", "document number missing"))
        elif found is None:
            rejected.append((row, "id_number", "unknown resident"))
        elif name and name != found[1]:
            rejected.append((row, "name", "name does not match the registry"))
        elif code in tubes and tubes[code][0] != rnd.pk:
            rejected.append((row, "tube", f"tube belongs to round {tubes[code][0]}"))
        elif _when(at, now) is None:
            rejected.append((row, "sampled_at", "unreadable sampled_at"))
        else:
            resident = found[0]
            earlier = placed.get(resident)
            if earlier is not None and earlier[0] == code:
                rejected.append((row, "id_number", f"duplicate of row {earlier[1]}"))
            elif (code, resident) in stored:
                placed.setdefault(resident, (code, row, True))
                unchanged += 1
            elif earlier is not None and not earlier[2]:
                rejected.append((row, "id_number", f"resident already in tube {earlier[0]} (row {earlier[1]})"))
            else:
                placed[resident] = (code, row, False)
                good[code].append((row, resident))
    written: dict[int, str] = {}
    opened = 0
    for code, members in good.items():
        single = tubes[code][1] == "single" if code in tubes else len(members) == 1 and members[0][1] in pending
        kept = []
        for row, resident in members:
            if not single and resident in pooled:
                rejected.append((row, "id_number", f"already sampled in this round (tube {pooled[resident]})"))
            else:
                kept.append(resident)
        if kept and code not in tubes:
            opened += 1
        written.update(dict.fromkeys(kept, code))
    return sorted(rejected), unchanged, written, opened


@pytest.mark.parametrize("seed", range(6))
def test_the_set_based_checks_agree_with_one_row_at_a_time(world: World, seed: int) -> None:
    rng = random.Random(seed)
    people = list(Resident.objects.filter(community=world.community).exclude(id_number="").order_by("pk"))
    other = round_create(community=world.community, date=DAY, pool_size=10, actor=None)
    samples_import(
        round=other, data=csv_bytes([HEADER, ["ELSE01", people[0].id_number, "", "", ""]]), filename="o.csv", actor=None
    )
    rnd = round_create(community=world.community, date=DAY, pool_size=10, actor=None)
    site_add(round=rnd, name="北广场", desks=2, opens_at=dt.time(7), closes_at=dt.time(19), actor=None)
    Retest.objects.create(community=world.community, resident=people[1], reason="antigen")
    codes = ["T0001", "t0002", " T0003", "T0004", "ELSE01", "", "S0009"]
    docs = [p.id_number for p in people] + ["", "310104199901010000", people[2].id_number.lower()]
    times = ["2022-04-12 08:00", "", "不知道", "2022/04/12 09:30", "2022-04-12T10:05:07", "2022-4-12"]

    def random_rows(n: int) -> list[list[str]]:
        rows = []
        for _ in range(n):
            doc = rng.choice(docs)
            registered = next((p.name for p in people if p.id_number == doc.upper()), "某人")
            name = rng.choice([registered, registered, "", "别人"])
            rows.append([rng.choice(codes), doc, name, rng.choice(times), rng.choice(["", "北广场", "无名点"])])
        return rows

    first = random_rows(8)  # what is stored before: a first import, then a second file checked against it
    samples_import(round=rnd, data=csv_bytes([HEADER, *first]), filename="a.csv", actor=None)
    for rows in (random_rows(30), first + random_rows(20)):
        expected, unchanged, written, opened = _reference(rnd, rows)
        before = set(Sample.objects.filter(round=rnd).values_list("resident_id", "tube__code"))
        report = samples_import(round=rnd, data=csv_bytes([HEADER, *rows]), filename="b.csv", actor=None)
        assert sorted((r.row, r.column, r.reason_en) for r in report.rejected) == expected
        assert report.unchanged == unchanged and report.samples == len(written) and report.tubes == opened
        after = set(Sample.objects.filter(round=rnd).values_list("resident_id", "tube__code"))
        assert after - before == set(written.items())
