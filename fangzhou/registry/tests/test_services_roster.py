"""Roster import and export, through the real service, on messy real-world files."""

from __future__ import annotations

import csv
import datetime as dt
import io
import zipfile

import openpyxl
import pytest

from fangzhou.accounts.models import AuditLog
from fangzhou.lib.sheets import UnreadableFile
from fangzhou.registry.models import Building, Grid, Household, Resident
from fangzhou.registry.services import community_create, roster_export, roster_import
from fangzhou.registry.tests.factories import make_id

pytestmark = pytest.mark.django_db
BORN = dt.date(1985, 3, 9)


def xlsx(
    rows: list[list[object]], *, title: str | None = "阳光小区居民花名册（2022年4月）", text_cols: tuple[int, ...] = ()
) -> bytes:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    if title:
        sheet.append([title])
        sheet.merge_cells(start_row=1, start_column=1, end_row=1, end_column=6)
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def messy_rows() -> list[list[object]]:
    good1 = make_id("310104", BORN, 11, True)
    good2 = make_id("310104", BORN, 12, False)
    return [
        [
            "序号",
            "楼栋",
            "房号",
            "姓名",
            "身份证号",
            "联系电话",
            "性别",
            "特殊人群",
            "小区",
            "微信号",
        ],  # header on row 2
        [1, "3号楼", "1201室", "陈建国", good1.lower(), 13812345678.0, "男", "", "阳光小区", "x"],  # row 3: good
        [2, "３栋", "１２０１", "周丽", good2, "1.3812345679E+10", "女", "孕妇", "阳光小区", ""],  # row 4: good
        [
            3,
            "3",
            "1202",
            "吴3",
            make_id("310104", BORN, 13, True),
            "13812345670",
            "",
            "",
            "阳光小区",
            "",
        ],  # row 5: bad name
        [None, None, None, None, None, None, None, None, None, None],  # row 6: blank, skipped silently
        [
            4,
            "3幢",
            "1203",
            "郑强",
            "310104198503091234",
            "13812345671",
            "",
            "",
            "阳光小区",
            "",
        ],  # row 7: bad check digit
        [
            5,
            "3号",
            "1204",
            "孙梅",
            make_id("310104", BORN, 14, False),
            "1.38123E+10",
            "",
            "",
            "阳光小区",
            "",
        ],  # row 8: phone lost digits
        [
            6,
            "3",
            "1205",
            "钱进",
            3.10104198503091e17,
            "13812345672",
            "",
            "",
            "阳光小区",
            "",
        ],  # row 9: ID stored as number
        [7, "3", "1206", "冯云", good1, "13812345673", "", "", "阳光小区", ""],  # row 10: duplicate of row 3
        [
            8,
            "3",
            "1207",
            "褚红",
            make_id("310104", BORN, 15, False),
            "13812345674",
            "男",
            "",
            "阳光小区",
            "",
        ],  # row 11: sex mismatch
        [
            9,
            "3",
            "1208",
            "卫东",
            make_id("310104", BORN, 16, True),
            "13812345675",
            "",
            "",
            "阳光小区",
            "",
        ],  # row 12: good
    ]


@pytest.fixture
def community():  # type: ignore[no-untyped-def]
    return community_create(code="R01", name="测试居民区")


class TestImportMessyRoster:
    def test_each_bad_row_is_reported_and_every_good_row_kept(self, community) -> None:  # type: ignore[no-untyped-def]
        report = roster_import(community=community, actor=None, data=xlsx(messy_rows()), filename="roster.xlsx")
        rejected = {(r.row, r.column) for r in report.rejected}
        assert rejected == {
            (5, "name"),
            (7, "id_number"),
            (8, "phone"),
            (9, "id_number"),
            (10, "id_number"),
            (11, "sex"),
        }
        by_row = {r.row: r for r in report.rejected}
        assert "第 3 行" in by_row[10].reason_zh and "row 3" in by_row[10].reason_en
        assert "set the column to text" in by_row[9].reason_en
        assert report.created == 3 and report.updated == 0
        names = set(Resident.objects.values_list("name", flat=True))
        assert names == {"陈建国", "周丽", "卫东"}
        # "3号楼", "３栋" and "3" are one building; "1201室" and "１２０１" one household.
        assert Building.objects.filter(community=community).count() == 1
        chen = Resident.objects.get(name="陈建国")
        zhou = Resident.objects.get(name="周丽")
        assert chen.household_id == zhou.household_id
        assert chen.id_number.endswith(chen.id_number[-1].upper())
        assert zhou.phone == "+8613812345679" and chen.phone == "+8613812345678"
        assert zhou.special == "pregnant" and zhou.sex == "F" and zhou.birth_date == BORN

    def test_reimport_is_a_no_op(self, community) -> None:  # type: ignore[no-untyped-def]
        data = xlsx(messy_rows())
        roster_import(community=community, actor=None, data=data, filename="roster.xlsx")
        before = list(Resident.objects.order_by("id").values())
        again = roster_import(community=community, actor=None, data=data, filename="roster.xlsx")
        assert (again.created, again.updated, again.unchanged) == (0, 0, 3)
        assert list(Resident.objects.order_by("id").values()) == before
        assert not AuditLog.objects.filter(action="resident.update").exists()

    def test_changed_row_updates_and_is_audited_without_the_value(self, community) -> None:  # type: ignore[no-untyped-def]
        rows = messy_rows()
        roster_import(community=community, actor=None, data=xlsx(rows), filename="roster.xlsx")
        rows[1][5] = "13999998888"  # 陈建国 changes phone
        rows[1][2] = "1301"  # and moves to another room
        report = roster_import(community=community, actor=None, data=xlsx(rows), filename="roster.xlsx")
        assert (report.created, report.updated) == (0, 1)
        chen = Resident.objects.get(name="陈建国")
        assert chen.phone == "+8613999998888" and chen.household.room == "1301"
        log = AuditLog.objects.get(action="resident.update", target_id=str(chen.pk))
        assert log.detail["changes"]["phone"] == ["138****5678", "139****8888"]
        assert "13999998888" not in str(log.detail)
        assert "household" in log.detail["changes"]

    def test_reimport_sets_back_what_was_edited_since_and_reports_a_repeated_row(self, community) -> None:  # type: ignore[no-untyped-def]
        # A re-import skips rows it read before only while the person is still as it left them.
        rows = messy_rows()
        roster_import(community=community, actor=None, data=xlsx(rows), filename="roster.xlsx")
        chen = Resident.objects.get(name="陈建国")
        Resident.objects.filter(pk=chen.pk).update(phone="+8613700000000")  # edited elsewhere
        Household.objects.filter(pk=Resident.objects.get(name="周丽").household_id).update(room="9999")
        rows.append(list(rows[1]))  # row 13: the very same cells as row 3
        again = roster_import(community=community, actor=None, data=xlsx(rows), filename="roster.xlsx")
        assert (again.created, again.updated, again.unchanged) == (0, 2, 1)
        assert Resident.objects.get(pk=chen.pk).phone == "+8613812345678"
        assert Resident.objects.get(name="周丽").household.room == "1201"
        assert {(r.row, r.column) for r in again.rejected} >= {(13, "id_number")}
        assert AuditLog.objects.filter(action="resident.update", target_id=str(chen.pk)).exists()
        third = roster_import(community=community, actor=None, data=xlsx(rows), filename="roster.xlsx")
        assert (third.created, third.updated, third.unchanged) == (0, 0, 3)
        assert {(r.row, r.column) for r in third.rejected} == {(r.row, r.column) for r in again.rejected}

    def test_reimport_sets_back_a_grid_changed_since(self, community) -> None:  # type: ignore[no-untyped-def]
        number = make_id("310104", BORN, 22, True)
        rows = [["楼号", "室号", "姓名", "身份证号", "网格"], ["3", "201", "王小明", number, "一网格"]]
        roster_import(community=community, actor=None, data=xlsx(rows, title=None), filename="r.xlsx")
        building = Building.objects.get(community=community)
        other = Grid.objects.create(community=community, name="二网格")
        Building.objects.filter(pk=building.pk).update(grid=other)
        roster_import(community=community, actor=None, data=xlsx(rows, title=None), filename="r.xlsx")
        assert Building.objects.get(pk=building.pk).grid.name == "一网格"

    def test_grid_named_by_a_later_row_of_a_new_building_is_set_at_once(self, community) -> None:  # type: ignore[no-untyped-def]
        rows = [
            ["楼号", "室号", "姓名", "身份证号", "网格"],
            ["3", "201", "王小明", make_id("310104", BORN, 23, True), ""],  # creates the building, no grid
            ["3", "202", "李小红", make_id("310104", BORN, 24, False), "一网格"],  # a later row names its grid
        ]
        report = roster_import(community=community, actor=None, data=xlsx(rows, title=None), filename="r.xlsx")
        assert report.created == 2 and not report.rejected
        assert Building.objects.get(community=community).grid.name == "一网格"
        again = roster_import(community=community, actor=None, data=xlsx(rows, title=None), filename="r.xlsx")
        assert (again.created, again.updated, again.unchanged) == (0, 0, 2)

    def test_match_on_place_and_name_when_no_document(self, community) -> None:  # type: ignore[no-untyped-def]
        rows = [["楼号", "室号", "姓名", "手机号"], ["7", "101", "老李", "13600001111"]]
        roster_import(community=community, actor=None, data=xlsx(rows, title=None), filename="r.xlsx")
        rows[1][3] = "13600002222"
        report = roster_import(community=community, actor=None, data=xlsx(rows, title=None), filename="r.xlsx")
        assert (report.created, report.updated) == (0, 1)
        assert Resident.objects.get().phone == "+8613600002222"

    def test_dry_run_writes_nothing(self, community) -> None:  # type: ignore[no-untyped-def]
        report = roster_import(
            community=community, actor=None, data=xlsx(messy_rows()), filename="r.xlsx", dry_run=True
        )
        assert report.created == 3 and report.dry_run
        assert not Resident.objects.exists() and not Household.objects.exists()

    def test_missing_column_does_not_erase_existing_values(self, community) -> None:  # type: ignore[no-untyped-def]
        roster_import(community=community, actor=None, data=xlsx(messy_rows()), filename="r.xlsx")
        slim = [[row[1], row[2], row[3], row[4]] for row in messy_rows()]  # no phone, no special
        report = roster_import(community=community, actor=None, data=xlsx(slim), filename="r.xlsx")
        assert report.updated == 0
        assert Resident.objects.get(name="周丽").phone == "+8613812345679"

    def test_person_registered_in_another_community_is_not_moved(self, community) -> None:  # type: ignore[no-untyped-def]
        roster_import(community=community, actor=None, data=xlsx(messy_rows()), filename="r.xlsx")
        other = community_create(code="R02", name="别处")
        report = roster_import(community=other, actor=None, data=xlsx(messy_rows()), filename="r.xlsx")
        assert report.created == 0
        # Refused without naming where the person lives (no oracle across communities).
        assert report.rejected and all("测试居民区" not in r.reason for r in report.rejected)
        assert any(r.reason_zh == "此人已登记在其他社区，请联系街道办理迁移" for r in report.rejected)

    def test_renamed_person_is_found_under_the_new_name_and_regridded_building_moves(self, community) -> None:  # type: ignore[no-untyped-def]
        number = make_id("310104", BORN, 21, True)
        rows = [["楼号", "室号", "姓名", "身份证号", "网格"], ["3", "201", "王小明", number, "一网格"]]
        roster_import(community=community, actor=None, data=xlsx(rows, title=None), filename="r.xlsx")
        rows[1][2], rows[1][4] = "王晓明", "二网格"
        report = roster_import(community=community, actor=None, data=xlsx(rows, title=None), filename="r.xlsx")
        assert (report.created, report.updated, report.unchanged) == (0, 1, 0)
        person = Resident.objects.get(id_number=number)
        assert person.name == "王晓明" and person.search_key.startswith("wangxiaoming")
        assert person.household.room == "201" and person.phone == ""
        assert Building.objects.get(number=person.household.building.number).grid.name == "二网格"
        log = AuditLog.objects.get(action="resident.update", target_id=str(person.pk))
        assert log.detail["changes"]["name"] == ["王小明", "王晓明"]


class TestCsv:
    @pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk"])
    def test_encodings(self, community, encoding: str) -> None:  # type: ignore[no-untyped-def]
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(["小区", "楼号", "室号", "姓名", "证件号码"])
        writer.writerow(["阳光小区", "9号楼", "501", "欧阳娜娜", make_id("310110", BORN, 1, False)])
        report = roster_import(
            community=community, actor=None, data=buffer.getvalue().encode(encoding), filename="r.csv"
        )
        assert report.created == 1, report.as_dict()
        assert Resident.objects.get().name == "欧阳娜娜"


class TestHostileFiles:
    def test_not_a_spreadsheet(self, community) -> None:  # type: ignore[no-untyped-def]
        with pytest.raises(UnreadableFile, match="not a valid Excel"):
            roster_import(community=community, actor=None, data=b"PK\x03\x04 this is not a zip", filename="r.xlsx")
        with pytest.raises(UnreadableFile):
            roster_import(community=community, actor=None, data=b"\x89PNG\r\n\x1a\n" + b"\x00" * 100, filename="r.xlsx")

    def test_zip_bomb_is_refused_without_inflating(self, community) -> None:  # type: ignore[no-untyped-def]
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("[Content_Types].xml", "<Types/>")
            archive.writestr("xl/worksheets/sheet1.xml", b"\x00" * (300 * 1024 * 1024))
        with pytest.raises(UnreadableFile, match="zip bomb"):
            roster_import(community=community, actor=None, data=buffer.getvalue(), filename="bomb.xlsx")

    def test_huge_file_is_refused(self, community) -> None:  # type: ignore[no-untyped-def]
        with pytest.raises(UnreadableFile, match="too large"):
            roster_import(community=community, actor=None, data=b"a," * (11 * 1024 * 1024), filename="big.csv")

    def test_no_header(self, community) -> None:  # type: ignore[no-untyped-def]
        with pytest.raises(UnreadableFile, match="header"):
            roster_import(community=community, actor=None, data=b"a,b\n1,2\n", filename="r.csv")


class TestExport:
    def test_export_reimports_unchanged_and_escapes_formulas(self, community) -> None:  # type: ignore[no-untyped-def]
        rows = messy_rows()
        rows[2].append("@SUM(A1:A9)")
        rows[0].append("备注")
        roster_import(community=community, actor=None, data=xlsx(rows), filename="r.xlsx")
        content = roster_export(community=community, actor=None)
        sheet = openpyxl.load_workbook(io.BytesIO(content)).active
        assert sheet is not None
        notes = [c.value for c in sheet["L"] if c.value and str(c.value).startswith("'@")]
        assert notes == ["'@SUM(A1:A9)"]
        ids = [c.value for c in sheet["F"][2:]]
        assert all(isinstance(v, str) and len(v) == 18 for v in ids)
        report = roster_import(community=community, actor=None, data=content, filename="export.xlsx")
        assert (report.created, report.updated, len(report.rejected)) == (0, 0, 0)
        assert report.unchanged == 3
        assert Resident.objects.get(name="周丽").note == "@SUM(A1:A9)"
