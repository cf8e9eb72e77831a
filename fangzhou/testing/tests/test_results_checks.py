"""The results import checks its rows in SQL over a staged table: every rejection reason in the
words the user sees, and the set-based verdicts against a one-row-at-a-time reference (the rules
as they were written before the checks moved into the database) on random files."""

from __future__ import annotations

import datetime as dt
import random
from collections import defaultdict

import pytest
from django.db.models import Count
from django.utils import timezone

from fangzhou.accounts.models import AuditLog
from fangzhou.registry.models import Resident
from fangzhou.registry.tests.factories import World
from fangzhou.testing.models import LabResult, Result, Retest, Round, Sample, Tube
from fangzhou.testing.services import (
    RESULT_WORDS,
    _clean_code,
    _ct,
    _when,
    results_import,
    round_create,
    samples_import,
)
from fangzhou.testing.tests.helpers import DAY, csv_bytes
from fangzhou.workorders.models import WorkOrder

pytestmark = pytest.mark.django_db

HEADER = ["试管编码", "检测结果", "ORF1ab Ct", "N Ct", "检测时间"]
SAMPLES = ["试管编码", "证件号码", "姓名", "采样时间", "采样点"]


def _round(world: World) -> tuple[Round, Round, list[Resident]]:
    """A round of pooled tubes of two (P000 …), a single tube S0001 of a resident pending re-test,
    an empty tube EMPTY1; and another round's tube ELSE01."""
    people = list(Resident.objects.filter(community=world.community).exclude(id_number="").order_by("pk"))
    other = round_create(community=world.community, date=DAY, pool_size=10, actor=None)
    samples_import(
        round=other,
        data=csv_bytes([SAMPLES, ["ELSE01", people[0].id_number, "", "", ""]]),
        filename="o.csv",
        actor=None,
    )
    rnd = round_create(community=world.community, date=DAY, pool_size=10, actor=None)
    Retest.objects.create(community=world.community, resident=people[-1], reason="antigen")
    rows = [[f"P{k // 2:03d}", p.id_number, "", "", ""] for k, p in enumerate(people[:-1])]
    rows.append(["S0001", people[-1].id_number, "", "", ""])
    report = samples_import(round=rnd, data=csv_bytes([SAMPLES, *rows]), filename="s.csv", actor=None)
    assert report.single == 1 and not report.rejected
    Tube.objects.create(round=rnd, code="EMPTY1", pool_size=10)  # opened at a desk, never filled
    return rnd, other, people


def test_every_rejection_reason_in_both_languages(world: World) -> None:
    rnd, other, _ = _round(world)
    results_import(round=rnd, data=csv_bytes([HEADER, ["P001", "阴性", "", "", ""]]), filename="a.csv", actor=None)
    data = csv_bytes(
        [
            HEADER,
            ["", "阴性", "", "", ""],  # 2
            ["P000", "也许", "", "", ""],  # 3
            ["NOPE1", "阴性", "", "", ""],  # 4
            ["ELSE01", "阴性", "", "", ""],  # 5
            ["EMPTY1", "阴性", "", "", ""],  # 6
            ["P000", "阳性", "abc", "", ""],  # 7
            ["P000", "阳性", "30", "51", ""],  # 8
            ["P000", "阳性", "", "", "明天"],  # 9
            [" p000 ", "POS", "27.5", "29", "2022/04/12 20:00"],  # 10: taken
            ["P000", "阳性", "", "", ""],  # 11
            ["S0001", "阴性", "", "", ""],  # 12
            ["S0001", "阳性", "", "", ""],  # 13
            ["P001", "阳性", "", "", ""],  # 14
        ]
    )
    report = results_import(round=rnd, data=data, filename="l.csv", actor=None)
    ct = "Ct 值无效（应为 0–50 的数字）"
    assert [(r.row, r.column, r.reason_zh, r.reason_en) for r in report.rejected] == [
        (2, "tube", "缺少试管编码", "tube code missing"),
        (3, "result", "检测结果「也许」无法识别（阴性/阳性/无效）", "unknown result '也许'"),
        (4, "tube", "未知试管 NOPE1", "unknown tube NOPE1"),
        (5, "tube", f"试管 ELSE01 属于另一轮次（#{other.pk}）", f"tube belongs to round {other.pk}"),
        (6, "tube", "试管 EMPTY1 没有样本", "tube EMPTY1 holds no sample"),
        (7, "ct_orf1ab", ct, "Ct value is not a number 0–50"),
        (8, "ct_n", ct, "Ct value is not a number 0–50"),
        (9, "tested_at", "检测时间无法识别", "unreadable tested_at"),
        (11, "tube", "与第 10 行重复", "duplicate of row 10"),
        (12, "result", "试管 S0001 结果相互矛盾（第 12、13 行）", "conflicting results for tube S0001"),
        (13, "result", "试管 S0001 结果相互矛盾（第 12、13 行）", "conflicting results for tube S0001"),
        (
            14,
            "result",
            f"试管 P001 已有结果「{Result.NEGATIVE.label}」，与本行矛盾",
            "conflicts with the stored result negative",
        ),
    ]
    assert report.tubes == 1 and report.unchanged == 0 and report.positive_tubes == ["P000"] and report.rows_read == 13
    lab = LabResult.objects.get(tube__code="P000")
    assert (lab.result, lab.ct_orf1ab, lab.ct_n) == ("positive", 27.5, 29.0)
    assert timezone.localtime(lab.tested_at).replace(tzinfo=None) == dt.datetime(2022, 4, 12, 20, 0)
    tube = Tube.objects.get(code="P000")
    assert tube.status == Tube.Status.RESULTED and tube.closed_at is not None
    assert sorted(report.retest) == sorted(
        Sample.objects.filter(tube=tube).values_list("resident__id_number", flat=True)
    )
    # Re-imported: nothing new, the same rejections.
    again = results_import(round=rnd, data=data, filename="l.csv", actor=None)
    assert again.tubes == 0 and again.unchanged == 1 and again.retest == []
    assert [r.row for r in again.rejected] == [2, 3, 4, 5, 6, 7, 8, 9, 11, 12, 13, 14]
    assert AuditLog.objects.filter(action="retest.open").count() == len(report.retest)


# --- a one-row-at-a-time reference -------------------------------------------------------------


def _text(value: str) -> str:
    return value.strip()


Expected = tuple[
    list[tuple[int, str, str]], int, dict[str, tuple[str, float | None, float | None]], list[str], list[str]
]


def _reference(rnd: Round, rows: list[list[str]]) -> tuple[Expected, list[tuple[int, str]]]:
    """((rejections as (row, column, reason), unchanged, {code: result written}, positive codes,
    invalid codes), re-tests opened as (resident, tube code)), from the database as it is before the
    import, one row after another, as the results import was written before its checks were SQL."""
    tubes = {
        t.code: (t.round_id, t.n, t.kind, t.pool_size) for t in Tube.objects.annotate(n=Count("samples")).order_by("pk")
    }
    stored = dict(LabResult.objects.values_list("tube__code", "result"))
    pending = set(Retest.objects.filter(status="pending").values_list("resident_id", flat=True))
    now = timezone.now()
    rejected: list[tuple[int, str, str]] = []
    parsed: dict[str, list[tuple[int, str, float | None, float | None]]] = defaultdict(list)
    for row, (tube, word, ct_a_cell, ct_n_cell, at) in enumerate(rows, start=2):
        if not any(c.strip() for c in (tube, word, ct_a_cell, ct_n_cell, at)):
            continue  # a blank row is no row
        code, word = _clean_code(_text(tube)), _text(word).lower()
        found = RESULT_WORDS.get(word)
        ct_a, ok_a = _ct(ct_a_cell)
        ct_n, ok_n = _ct(ct_n_cell)
        if not code:
            rejected.append((row, "tube", "tube code missing"))
        elif found is None:
            rejected.append((row, "result", f"unknown result {word!r}"))
        elif code not in tubes:
            rejected.append((row, "tube", f"unknown tube {code}"))
        elif tubes[code][0] != rnd.pk:
            rejected.append((row, "tube", f"tube belongs to round {tubes[code][0]}"))
        elif not tubes[code][1]:
            rejected.append((row, "tube", f"tube {code} holds no sample"))
        elif not (ok_a and ok_n):
            rejected.append((row, "ct_orf1ab" if not ok_a else "ct_n", "Ct value is not a number 0–50"))
        elif _when(at, now) is None:
            rejected.append((row, "tested_at", "unreadable tested_at"))
        else:
            parsed[code].append((row, str(found), ct_a, ct_n))
    unchanged = 0
    written: dict[str, tuple[str, float | None, float | None]] = {}
    positive: list[str] = []
    invalid: list[str] = []
    opened: list[tuple[int, str]] = []
    for code, entries in parsed.items():
        if len({e[1] for e in entries}) > 1:
            rejected.extend((e[0], "result", f"conflicting results for tube {code}") for e in entries)
            continue
        first, *dupes = entries
        rejected.extend((e[0], "tube", f"duplicate of row {first[0]}") for e in dupes)
        if code in stored:
            if stored[code] == first[1]:
                unchanged += 1
            else:
                rejected.append((first[0], "result", f"conflicts with the stored result {stored[code]}"))
            continue
        written[code] = first[1:]
        (positive if first[1] == "positive" else invalid if first[1] == "invalid" else []).append(code)
        if first[1] != "negative" and tubes[code][2] == "pooled" and tubes[code][3] > 1:
            for resident in Sample.objects.filter(tube__code=code).order_by("id").values_list("resident_id", flat=True):
                if resident not in pending:
                    pending.add(resident)
                    opened.append((resident, code))
    return (sorted(rejected), unchanged, written, positive, invalid), opened


@pytest.mark.parametrize("seed", range(6))
def test_the_set_based_checks_agree_with_one_row_at_a_time(world: World, seed: int) -> None:
    rng = random.Random(seed)
    rnd, _, _ = _round(world)
    pooled = sorted(Tube.objects.filter(round=rnd, kind="pooled").exclude(code="EMPTY1").values_list("code", flat=True))
    codes = [*pooled, pooled[0].lower(), f" {pooled[-1]} ", "S0001", "EMPTY1", "ELSE01", "NOPE1", ""]
    words = ["阴性", "阴性", "阴性", "阳性", "无效", "negative", " POS ", "maybe", ""]
    cts = ["", "", "27.5", "-", "N/A", "abc", "51", "30"]
    times = ["2022-04-12 20:00", "", "不知道", "2022/04/12 21:00", "2022-04-12"]

    def random_rows(n: int) -> list[list[str]]:
        return [
            [rng.choice(codes), rng.choice(words), rng.choice(cts), rng.choice(cts), rng.choice(times)]
            for _ in range(n)
        ]

    first = random_rows(6)  # what is stored before: a first import, then a second file checked against it
    results_import(round=rnd, data=csv_bytes([HEADER, *first]), filename="a.csv", actor=None)
    for rows in (random_rows(30), first + random_rows(20)):
        (rejected, unchanged, written, positive, invalid), opened = _reference(rnd, rows)
        before = set(LabResult.objects.values_list("pk", flat=True))
        retests_before = set(Retest.objects.values_list("pk", flat=True))
        report = results_import(round=rnd, data=csv_bytes([HEADER, *rows]), filename="b.csv", actor=None)
        assert sorted((r.row, r.column, r.reason_en) for r in report.rejected) == rejected
        assert report.unchanged == unchanged and report.tubes == len(written)
        assert report.positive_tubes == positive and report.invalid_tubes == invalid
        assert report.negative == sum(1 for r, *_ in written.values() if r == "negative")
        new = LabResult.objects.exclude(pk__in=before).select_related("tube")
        assert {lab.tube.code: (lab.result, lab.ct_orf1ab, lab.ct_n) for lab in new} == written
        assert all(lab.tube.status == Tube.Status.RESULTED for lab in new)
        made = Retest.objects.exclude(pk__in=retests_before).select_related("source_tube", "work_order")
        assert sorted((r.resident_id, r.source_tube.code) for r in made if r.source_tube) == sorted(opened)
        assert all(
            r.work_order is not None and r.work_order.source_key == f"retest:{rnd.pk}:{r.resident_id}" for r in made
        )
    assert WorkOrder.objects.filter(kind="retest").count() == Retest.objects.exclude(work_order=None).count()
