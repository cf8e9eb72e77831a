"""`fangzhou roster import` and the upload page take every format a committee office has: .xlsx,
old .xls, Excel's Unicode text (UTF-16), UTF-8 with or without BOM, GBK; phones as mobiles,
landlines (with or without the area code) and Hong Kong or Macao numbers. A Big5 file is refused
with the reason in Chinese and English, never imported as garbage."""

from __future__ import annotations

import datetime as dt
import io
import json
from collections.abc import Callable
from pathlib import Path

import pytest
import xlwt
from django.test import Client

from fangzhou.cli import main
from fangzhou.registry.models import Community, Resident
from fangzhou.registry.tests.factories import World
from fangzhou.registry.tests.test_services_roster import xlsx

pytestmark = pytest.mark.django_db

HEADER = ["小区", "楼号", "室号", "姓名", "出生日期", "电话", "特殊人群"]
ROWS: list[list[object]] = [
    ["华新一村", "1号楼", "101", "张伟", "1950-03-01", "13812345678", ""],
    ["华新一村", "1号楼", "102", "李秀英", "1938-05-02", "021-6431 8888", "独居老人"],  # her only number
    ["华新一村", "1号楼", "103", "王建国", "1941-07-03", "64318899", "独居老人"],  # the community's area code
    ["华新一村", "1号楼", "104", "陈美玲", "1980-09-04", "+852 6123 4567", ""],
    ["华新一村", "1号楼", "105", "何嘉欣", "1985-11-05", "+853 6612 3456", ""],
    ["华新一村", "1号楼", "106", "赵强", "1970-01-06", "400-820-8820", ""],  # row 7: a service number
]
EXPECTED = {
    "张伟": ("+8613812345678", "mobile"),
    "李秀英": ("+862164318888", "landline"),
    "王建国": ("+862164318899", "landline"),
    "陈美玲": ("+85261234567", "mobile"),
    "何嘉欣": ("+85366123456", "mobile"),
}


def _text(delimiter: str) -> str:
    return "\r\n".join(delimiter.join(str(c) for c in row) for row in [HEADER, *ROWS]) + "\r\n"


def _xls() -> bytes:
    book = xlwt.Workbook(encoding="utf-8")
    sheet = book.add_sheet("花名册")
    for r, row in enumerate([HEADER, *ROWS]):
        for c, value in enumerate(row):
            sheet.write(r, c, value)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


FORMATS: dict[str, tuple[str, Callable[[], bytes]]] = {
    "xlsx": ("花名册.xlsx", lambda: xlsx([HEADER, *ROWS], title=None)),
    "xls": ("花名册.xls", _xls),
    "unicode-text": ("花名册.txt", lambda: b"\xff\xfe" + _text("\t").encode("utf-16-le")),
    "utf-8": ("花名册.csv", lambda: _text(",").encode("utf-8")),
    "utf-8-bom": ("花名册.csv", lambda: b"\xef\xbb\xbf" + _text(",").encode("utf-8")),
    "gbk": ("花名册.csv", lambda: _text(",").encode("gbk")),
}


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, object], str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    lines = captured.out.strip().splitlines()
    return code, json.loads(lines[-1]) if lines else {}, captured.err


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_cli_imports_every_format_with_every_kind_of_phone(
    fmt: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["community", "create", "HX01", "--name", "华新居民区"]) == 0
    filename, make = FORMATS[fmt]
    path = tmp_path / filename
    path.write_bytes(make())
    code, report, _ = _run(capsys, "roster", "import", str(path), "--community", "HX01", "--json")
    assert code == 0
    assert report["created"] == 5
    rejected = report["rejected"]
    assert isinstance(rejected, list) and [(r["row"], r["column"]) for r in rejected] == [(7, "phone")]
    assert "服务号码" in rejected[0]["reason"] and "service number" in rejected[0]["reason"]
    stored = {r.name: (r.phone, r.phone_kind) for r in Resident.objects.all()}
    assert stored == EXPECTED
    # Read back as Chinese, not as mojibake, and the birth date understood.
    assert Resident.objects.get(name="李秀英").birth_date == dt.date(1938, 5, 2)


def test_a_landline_without_area_code_takes_the_communitys_own(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["community", "create", "HZ01", "--name", "杭州某社区", "--phone-area-code", "0571"]) == 0
    assert Community.objects.get(code="HZ01").phone_area_code == "0571"
    path = tmp_path / "r.csv"
    path.write_text("楼号,室号,姓名,电话\n1,101,孙大爷,88886666\n", encoding="utf-8")
    assert _run(capsys, "roster", "import", str(path), "--community", "HZ01", "--json")[0] == 0
    assert Resident.objects.get(name="孙大爷").phone == "+8657188886666"


def test_reimporting_the_export_changes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["community", "create", "HX01", "--name", "华新居民区"]) == 0
    path = tmp_path / "r.xls"
    path.write_bytes(_xls())
    _run(capsys, "roster", "import", str(path), "--community", "HX01", "--json")
    out = tmp_path / "export.xlsx"
    assert _run(capsys, "roster", "export", "--community", "HX01", "-o", str(out), "--json")[0] == 0
    code, again, _ = _run(capsys, "roster", "import", str(out), "--community", "HX01", "--json")
    assert code == 0
    assert (again["created"], again["updated"], again["unchanged"], again["rejected"]) == (0, 0, 5, [])


BIG5 = "樓號,室號,姓名,電話\n1號樓,101,張偉,13812345678\n1號樓,102,陳國華,021-64318888\n".encode("big5")


def test_cli_refuses_a_big5_file_and_imports_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["community", "create", "HX01", "--name", "华新居民区"]) == 0
    path = tmp_path / "名单.csv"
    path.write_bytes(BIG5)
    code, _, err = _run(capsys, "roster", "import", str(path), "--community", "HX01", "--json")
    assert code == 2
    assert "Big5" in err and "请另存为 UTF-8 或 Excel 格式" in err and "save it as UTF-8" in err
    assert not Resident.objects.exists()


@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_the_upload_page_refuses_big5_with_the_reason_in_both_languages(world: World, language: str) -> None:
    client = Client()
    client.force_login(world.secretary)
    client.cookies["django_language"] = language
    handle = io.BytesIO(BIG5)
    handle.name = "名单.csv"
    before = Resident.objects.count()
    response = client.post(f"/c/{world.community.code}/roster/", {"file": handle, "mode": "import"})
    page = response.content.decode()
    assert response.status_code == 400
    assert "Big5" in page and "请另存为 UTF-8 或 Excel 格式" in page and "save it as UTF-8" in page
    assert "張偉" not in page and "陳國華" not in page  # nothing of it was read
    assert Resident.objects.count() == before
    assert f'lang="{language}"' in page
