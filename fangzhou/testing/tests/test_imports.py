"""Lab files and sample files: bad rows reported row by row, never silently applied; re-import is a no-op."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fangzhou.cli import main
from fangzhou.registry.tests.factories import World
from fangzhou.testing.models import LabResult, Retest, Round, Sample, Tube, TubeKind
from fangzhou.testing.services import results_import, round_create
from fangzhou.testing.tests.helpers import DAY, csv_bytes, sampled_round

pytestmark = pytest.mark.django_db


def _codes(rnd: Round) -> list[str]:
    return list(Tube.objects.filter(round=rnd).order_by("id").values_list("code", flat=True))


def test_bad_lab_file_rejected_row_by_row(world: World) -> None:
    rnd = sampled_round(world, pool_size=1)
    a, b, c = _codes(rnd)[:3]
    other = sampled_round(world)  # another round of the same community (same people, new tubes)
    foreign = _codes(other)[0]
    lab = csv_bytes(
        [
            ["说明：某某检测机构 2022-04-12"],  # a title row above the header
            ["试管编码", "检测结果", "ORF1ab Ct", "N Ct", "检测时间"],
            [a, "阴性", "", "", "2022-04-12 20:00"],  # row 3: good
            [a, "阴性", "", "", "2022-04-12 20:00"],  # row 4: duplicate of row 3
            [b, "阴性", "", "", ""],  # row 5: conflicts with row 6
            [b, "阳性", "30", "31", ""],  # row 6
            ["NOPE-1", "阴性", "", "", ""],  # row 7: unknown tube
            [foreign, "阴性", "", "", ""],  # row 8: another round
            [c, "maybe", "", "", ""],  # row 9: unreadable result
            [c, "阳性", "abc", "", ""],  # row 10: bad Ct
            ["", "阴性", "", "", ""],  # row 11: no tube code
        ]
    )
    report = results_import(round=rnd, data=lab, filename="lab.csv", actor=world.secretary).as_dict()
    rows = {r["row"]: r["reason"] for r in report["rejected"]}
    assert sorted(rows) == [4, 5, 6, 7, 8, 9, 10, 11]
    assert "duplicate of row 3" in rows[4]
    assert "conflicting" in rows[5] and "conflicting" in rows[6]
    assert "unknown tube" in rows[7]
    assert f"round {other.pk}" in rows[8]
    assert "unknown result" in rows[9] and "Ct" in rows[10] and "missing" in rows[11]
    assert report["tubes"] == 1 and report["negative"] == 1
    # Nothing of the bad rows was applied: b and c have no result, no re-test exists.
    assert set(LabResult.objects.values_list("tube__code", flat=True)) == {a}
    assert not Retest.objects.exists()
    # A later file contradicting the stored result is refused too.
    contra = csv_bytes([["tube_code", "result"], [a, "positive"]])
    later = results_import(round=rnd, data=contra, filename="l2.csv", actor=None).as_dict()
    assert later["rejected"][0]["row"] == 2 and "stored result" in later["rejected"][0]["reason"]
    assert LabResult.objects.get(tube__code=a).result == "negative"


def test_samples_import_and_reimport(world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    zhang, li, wang, liu = (world.resident(n) for n in ("张伟", "李娜", "王秀英", "刘洋"))
    rnd = round_create(community=world.community, date=DAY, pool_size=10, actor=None)
    path = tmp_path / "samples.csv"
    path.write_bytes(
        csv_bytes(
            [
                ["试管编码", "证件号码", "姓名", "采样时间", "采样点"],
                ["A0001", zhang.id_number, "张伟", "2022-04-12 08:01", "北广场"],
                ["A0001", li.id_number, "李娜", "2022-04-12 08:01", "北广场"],
                ["A0001", li.id_number, "李娜", "2022-04-12 08:01", "北广场"],  # row 4: duplicate
                ["A0002", "310104199901010000", "某人", "", ""],  # row 5: unknown resident
                ["A0002", wang.id_number, "王秀英", "", ""],
                ["A0003", zhang.id_number, "张伟", "", ""],  # row 7: already in A0001 (row 2)
                ["A0004", liu.id_number, "刘洋洋", "", ""],  # row 8: name mismatch
            ]
        )
    )
    assert main(["testing", "import-samples", str(path), "--round", str(rnd.pk), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["tubes"] == 2 and out["samples"] == 3
    assert [r["row"] for r in out["rejected"]] == [4, 5, 7, 8]
    assert main(["testing", "import-samples", str(path), "--round", str(rnd.pk), "--json"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["tubes"] == 0 and again["samples"] == 0 and again["unchanged"] == 3
    assert Sample.objects.filter(round=rnd).count() == 3

    # Results through the command, then a single-tube re-test sample imported for a pending resident.
    lab = tmp_path / "lab.csv"
    lab.write_bytes(csv_bytes([["tube_code", "result", "tested_at"], ["A0001", "positive", "2022-04-12"]]))
    assert main(["testing", "import-results", str(lab), "--round", str(rnd.pk), "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["positive_tubes"] == ["A0001"] and sorted(res["retest"]) == sorted([zhang.id_number, li.id_number])
    assert set(res) >= {
        "tubes",
        "negative",
        "positive_tubes",
        "invalid_tubes",
        "retest",
        "confirmed_positive",
        "rejected",
    }
    single = tmp_path / "single.csv"
    single.write_bytes(csv_bytes([["试管码", "身份证号"], ["S0001", zhang.id_number]]))
    assert main(["testing", "import-samples", str(single), "--round", str(rnd.pk), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["single_tube_retests"] == 1
    assert Tube.objects.get(code="S0001").kind == TubeKind.SINGLE

    manifest = tmp_path / "m.csv"
    assert main(["testing", "export-manifest", "--round", str(rnd.pk), "-o", str(manifest), "--json"]) == 0
    text = manifest.read_text(encoding="utf-8-sig")
    assert "A0001" in text and "北广场" in text and zhang.id_number not in text and "张伟" not in text


def test_new_round_command(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["testing", "new-round", "--community", "T01", "--date", "2022-04-12", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert Round.objects.get(pk=out["id"]).pool_size == 10
    assert main(["testing", "new-round", "--community", "T01", "--date", "2022-04-12", "--pool-size", "5"]) == 0
    assert Round.objects.get(pk=int(capsys.readouterr().out.strip())).pool_size == 5
    assert main(["testing", "new-round", "--community", "NOPE", "--date", "2022-04-12"]) == 2
    assert main(["testing", "new-round", "--community", "T01", "--date", "12/04/2022"]) == 2
    assert main(["testing", "import-results", "/nonexistent.csv", "--round", "1"]) == 2


def test_unreadable_lab_file(world: World, tmp_path: Path) -> None:
    rnd = sampled_round(world)
    bad = tmp_path / "lab.csv"
    bad.write_bytes(csv_bytes([["foo", "bar"], ["1", "2"]]))
    assert main(["testing", "import-results", str(bad), "--round", str(rnd.pk)]) == 2


def _xls(rows: list[list[str]]) -> bytes:
    import io

    import xlwt

    book = xlwt.Workbook(encoding="utf-8")
    sheet = book.add_sheet("结果")
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            sheet.write(r, c, value)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


@pytest.mark.parametrize("fmt", ["xls", "unicode-text", "big5"])
def test_a_lab_file_in_an_office_format_goes_through_the_same_reading(world: World, fmt: str) -> None:
    from fangzhou.lib.sheets import UnreadableFile

    rnd = sampled_round(world, pool_size=1)
    a, b = _codes(rnd)[:2]
    rows = [["试管编码", "检测结果"], [a, "阴性"], ["NOPE-1", "阴性"], [b, "阴性"]]
    if fmt == "big5":
        data = "\n".join(",".join(r) for r in [["試管編碼", "檢測結果"], [a, "陰性"]]).encode("big5")
        with pytest.raises(UnreadableFile, match="Big5"):
            results_import(round=rnd, data=data, filename="lab.csv", actor=None)
        assert not LabResult.objects.exists()
        return
    if fmt == "xls":
        data, filename = _xls(rows), "lab.xls"
    else:
        data, filename = b"\xff\xfe" + "\r\n".join("\t".join(r) for r in rows).encode("utf-16-le"), "lab.txt"
    report = results_import(round=rnd, data=data, filename=filename, actor=None).as_dict()
    assert [r["row"] for r in report["rejected"]] == [3] and report["negative"] == 2
    assert set(LabResult.objects.values_list("tube__code", flat=True)) == {a, b}
