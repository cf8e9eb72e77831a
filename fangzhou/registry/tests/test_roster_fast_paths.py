"""The roster import's fast paths give exactly what the full checks give.

Each cheaper path (ASCII and Han-only cells, the ID check digit from the characters' codes, the
digests written without repr, a resident's birth date read as text on SQLite, rows left out of the
check before a Row is made, dates prepared once per value) is compared here with the plain
implementation it replaced, kept below as the reference."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fangzhou.accounts.models import AuditLog
from fangzhou.lib.bulk import rows_copy
from fangzhou.lib.importing import (
    CellError,
    Columns,
    ImportReport,
    Row,
    rows_check,
    rows_check_known,
    sheet_header,
    sheet_map,
)
from fangzhou.lib.personal import id_check_digit
from fangzhou.lib.sheets import Cell, Sheet
from fangzhou.registry.models import Household, Resident
from fangzhou.registry.roster import importer as im
from fangzhou.registry.roster import normalize as nz
from fangzhou.registry.services import community_create, roster_import
from fangzhou.registry.tests.factories import make_id

TODAY = dt.date(2022, 4, 1)

# --- the implementations the fast paths replaced (as they were) ---------------------------------


def ref_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        if value.is_integer():
            return str(int(value))
        return repr(value)
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    raw = str(value)
    if len(raw) > 1 and raw[0] == "'" and raw[1] in "=+-@":
        raw = raw[1:]
    return unicodedata.normalize("NFKC", raw).strip()


def ref_compact(value: object) -> str:
    return nz._SPACES.sub("", ref_text(value))


def ref_person_name(value: object) -> str:
    raw = nz._SPACES.sub(" ", ref_text(value).translate(nz._DOTS)).strip()
    if not raw:
        raise CellError("姓名为空", "name is empty")
    if any(ch.isdigit() for ch in raw):
        raise CellError(f"姓名「{raw}」含有数字", f"name {raw!r} contains digits")
    if len(raw) > 64:
        raise CellError(
            f"姓名过长（{len(raw)} 个字符，最多 64 个）", f"name is too long ({len(raw)} characters, at most 64)"
        )
    if not nz._NAME.match(raw):
        raise CellError(f"姓名「{raw}」含有无效字符", f"name {raw!r} has characters a name cannot have")
    if re.fullmatch(rf"[{nz._CJK}·]+", raw.replace(" ", "")):
        raw = raw.replace(" ", "")
    return raw


def outcome(checker, value, **kwargs):  # type: ignore[no-untyped-def]
    try:
        return ("ok", checker(value, **kwargs))
    except CellError as exc:
        return ("error", exc.zh, exc.en)


HAN = st.characters(min_codepoint=0x4E00, max_codepoint=0x4E60) | st.characters(
    min_codepoint=0xF900, max_codepoint=0xF920
)
CELL_CHARS = (
    HAN
    | st.sampled_from(list(" \u3000\u00a0\u200b\ufeff·・•.'-=+@0123456789１２ＡABxyzX\t\x1f\x00٣"))
    | st.characters(codec="utf-8")
)
CELLS = st.text(CELL_CHARS, max_size=70) | st.text(HAN, min_size=1, max_size=70)


@settings(max_examples=400, deadline=None)
@given(CELLS)
def test_text_compact_and_names_agree_with_the_full_checks(value: str) -> None:
    assert nz.text(value) == ref_text(value)
    assert nz.compact(value) == ref_compact(value)
    assert outcome(nz.person_name, value) == outcome(ref_person_name, value)


@settings(max_examples=300, deadline=None)
@given(st.text(st.sampled_from("0123456789"), min_size=17, max_size=17))
def test_check_digit_from_codes_agrees(digits: str) -> None:
    assert nz._id_check_digit(digits.encode()) == id_check_digit(digits)


def ref_resident_id(value: object) -> tuple[str, dt.date, str]:
    raw = ref_compact(value).upper()
    if not re.fullmatch(r"\d{17}[\dX]", raw) or raw[:2] not in nz._PROVINCES:
        raise CellError("shape", "shape")
    born = dt.date(int(raw[6:10]), int(raw[10:12]), int(raw[12:14]))
    if id_check_digit(raw[:17]) != raw[17]:
        raise CellError("check", "check")
    return raw, born, "M" if int(raw[16]) % 2 else "F"


@settings(max_examples=300, deadline=None)
@given(
    st.dates(dt.date(1900, 1, 1), dt.date(2021, 12, 31)),
    st.integers(0, 499),
    st.booleans(),
    st.sampled_from(["", " ", "\u3000"]),
    st.booleans(),
)
def test_resident_id_agrees(born: dt.date, seq: int, male: bool, pad: str, spoil: bool) -> None:
    number = make_id("310104", born, seq, male)
    if spoil:  # a wrong check digit, or another script's digit where \d admits it
        number = number[:17] + ("0" if number[17] != "0" else "1") if seq % 2 else number[:9] + "٣" + number[10:]
    value = pad + number + pad
    got = outcome(nz.resident_id, value, today=TODAY)
    try:
        expected = ("ok", ref_resident_id(value))
    except (CellError, ValueError):
        expected = ("error",)
    assert got[0] == expected[0]
    if got[0] == "ok":
        facts = got[1]
        assert (facts.number, facts.birth_date, facts.sex) == expected[1]


def test_an_id_with_another_scripts_digits_takes_the_general_check_digit() -> None:
    number = make_id("310104", dt.date(1980, 5, 17), 1, True)
    arabic = number[:16] + chr(0x0660 + int(number[16])) + number[17]  # \d admits it, as it always did
    assert nz.resident_id(arabic, today=TODAY).number == arabic


# --- digests -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ([None], [""]),
        (["5"], [5]),
        ([5], [5.0]),
        ([True], [1]),
        (["None"], [None]),
        (["\x00"], [None]),
        (["a\x1fb", "c"], ["a", "b\x1fc"]),
        (["a", "\x1f"], ["a\x1f", ""]),
        (["a', 'b"], ["a", "b"]),
        (['a", "b'], ["a", "b"]),
        ([dt.date(2020, 1, 2)], ["2020-01-02"]),
        ([dt.datetime(2020, 1, 2)], [dt.date(2020, 1, 2)]),
        (["a", None], ["a"]),
    ],
)
def test_row_digests_tell_different_cells_apart(a: list[object], b: list[object]) -> None:
    assert im.row_digest("s", a) != im.row_digest("s", b)
    assert im.row_digest("s", a) == im.row_digest("s", list(a))
    assert im.row_digest("s", a) != im.row_digest("t", a)


CELL = (
    st.none()
    | st.text(st.sampled_from("ab'\"\\, []\x1f\x00张"), max_size=4)
    | st.integers(-3, 3)
    | st.floats(-3, 3, allow_nan=False)
    | st.booleans()
    | st.dates(dt.date(2020, 1, 1), dt.date(2020, 1, 3))
    | st.datetimes(dt.datetime(2020, 1, 1), dt.datetime(2020, 1, 3))
)


@settings(max_examples=400, deadline=None)
@given(st.lists(CELL, max_size=4), st.lists(CELL, max_size=4))
def test_the_same_row_digest_means_the_same_cells(a: list[object], b: list[object]) -> None:
    # Sound: a re-import leaves a row unparsed only if its cells are the very values (and types)
    # the last import read.
    typed = [(type(x), x) for x in a] == [(type(y), y) for y in b]
    if im.row_digest("s", a) == im.row_digest("s", b):
        assert typed
    if a == b and typed and repr(a) == repr(b):
        assert im.row_digest("s", a) == im.row_digest("s", b)


def test_fields_is_values_in_order() -> None:
    row = im.RosterRow(2, "c", "3", "101", "张三", "resident_id", "1", "M", dt.date(1980, 5, 17), "+86", "mobile")
    assert row.fields() == tuple(row.values().values())
    assert tuple(row.values()) == im.FIELDS


# --- the check that leaves known rows out -------------------------------------------------------


def test_rows_check_known_is_rows_check_without_the_known_rows() -> None:
    # A title above the header, a blank row, a row shorter than the header, a row of spaces.
    rows: list[tuple[int, list[Cell]]] = [(1, ["名单"]), (2, ["x", "v"])]
    rows += [(n, ["", str(n)]) for n in range(3, 13)]
    rows += [(13, [None, None]), (14, ["y"]), (15, ["  ", "\u3000"]), (16, ["", "16"])]
    sheet = Sheet(rows)
    columns = Columns({"v": ("v",), "x": ("x",)}, ("v",))

    def parse(row: Row) -> str | None:
        if row.number % 3 == 0 or row.cells["v"] is None:
            row.reject("v", "坏", "bad")
        return str(row.cells["v"])

    seen: list[int] = []

    def known(number: int, cells: object) -> bool:
        seen.append(number)
        return number % 2 == 0

    full, fast = ImportReport(), ImportReport()
    everything = rows_check(sheet_map(sheet, columns, full), parse, full)
    kept = rows_check_known(sheet, sheet_header(sheet, columns, fast), known, parse, fast)
    assert seen == [*range(3, 13), 14, 16]  # sheet order, no blank row
    assert kept == [r for r in everything if int(r) % 2]
    assert fast.rows_read == full.rows_read == 12
    assert [r.row for r in fast.rejected] == [r.row for r in full.rejected if r.row % 2] == [3, 9]
    assert (fast.header_row, fast.ignored_columns) == (full.header_row, full.ignored_columns)


# --- the database paths ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_rows_copy_writes_what_the_orm_writes() -> None:
    # rows_copy prepares a date once per distinct date and any other value once per object in a
    # row: the rows must read back as the ORM's bulk_create of the same residents leaves them.
    community = community_create(code="F01", name="快")
    roster_import(
        community=community,
        actor=None,
        sheet=Sheet([(1, ["楼号", "室号", "姓名"]), (2, ["1", "101", "甲"]), (3, ["1", "102", "乙"])]),
    )
    h1, h2 = Household.objects.filter(building__community=community).order_by("room").values_list("pk", flat=True)
    columns = [*im.RESIDENT_COLUMNS]
    first, later = dt.datetime(2022, 4, 1, 8, tzinfo=dt.UTC), dt.datetime(2022, 4, 2, 9, 30, tzinfo=dt.UTC)
    # The same date as one object and as equal objects, none, another date; two timestamps in turn.
    born = [dt.date(1980, 5, 17), None, dt.date(1980, 5, 17), dt.date(2001, 2, 3), None, dt.date(1980, 5, 17)]
    values = [
        {"name": f"{i}", "id_type": "passport", "id_number": f"X{i:05d}", "birth_date": d} for i, d in enumerate(born)
    ]
    stamps = [first if i % 2 else later for i in range(len(values))]

    def row(household: int, tag: str, v: dict[str, object], at: dt.datetime) -> tuple[object, ...]:
        fields = {
            **dict.fromkeys(im.FIELDS, ""),
            **v,
            "name": tag + str(v["name"]),
            "id_number": tag + str(v["id_number"]),
        }
        return (community.pk, household, *(fields[f] for f in im.FIELDS), "", "", at, at)

    rows_copy(Resident, columns, [row(h1, "丙", v, at) for v, at in zip(values, stamps, strict=True)])
    Resident.objects.bulk_create(
        [
            Resident(
                community=community,
                household_id=h2,
                **{**dict.fromkeys(im.FIELDS, ""), **v, "name": f"丁{v['name']}", "id_number": f"丁{v['id_number']}"},
            )
            for v in values
        ]
    )
    fields = ["name", "id_number", "birth_date"]
    copied = Resident.objects.filter(household_id=h1, name__startswith="丙").order_by("id")
    orm = Resident.objects.filter(household_id=h2, name__startswith="丁").order_by("id")
    ours = [(r[0][1:], r[1][1:], r[2]) for r in copied.values_list(*fields)]
    assert ours == [(r[0][1:], r[1][1:], r[2]) for r in orm.values_list(*fields)]
    assert [r[2] for r in ours] == born and len(ours) == len(born)
    # The timestamps as given (the ORM sets its own: auto_now), each row its own of the two.
    assert list(copied.values_list("created_at", "updated_at")) == [(t, t) for t in stamps]


@pytest.mark.django_db
def test_reimport_sets_back_a_birth_date_edited_since() -> None:
    # The state a re-import compares takes the birth date as stored (text on SQLite, a date on
    # PostgreSQL): an edit of it alone makes the row go through the full check and be set back.
    community = community_create(code="F02", name="快二")
    number = make_id("310104", dt.date(1980, 5, 17), 7, True)
    sheet = Sheet([(1, ["楼号", "室号", "姓名", "身份证号"]), (2, ["3", "201", "王小明", number])])
    roster_import(community=community, actor=None, sheet=sheet)
    resident = Resident.objects.get(community=community)
    assert resident.birth_date == dt.date(1980, 5, 17)
    again = roster_import(community=community, actor=None, sheet=sheet)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 1)
    Resident.objects.filter(pk=resident.pk).update(birth_date=dt.date(1981, 1, 1))
    third = roster_import(community=community, actor=None, sheet=sheet)
    assert (third.created, third.updated, third.unchanged) == (0, 1, 0)
    assert Resident.objects.get(pk=resident.pk).birth_date == dt.date(1980, 5, 17)
    audit = AuditLog.objects.filter(action="resident.update", target_id=str(resident.pk)).get()
    assert audit.detail["changes"]["birth_date"] == ["1981-01-01", "1980-05-17"]
    fourth = roster_import(community=community, actor=None, sheet=sheet)
    assert (fourth.created, fourth.updated, fourth.unchanged) == (0, 0, 1)


@pytest.mark.django_db
def test_a_document_registered_elsewhere_is_still_found() -> None:
    # The look-up repeats the partial index's condition; it must still find every document.
    home = community_create(code="F03", name="甲社区")
    other = community_create(code="F04", name="乙社区")
    number = make_id("310104", dt.date(1975, 3, 9), 9, False)
    roster_import(
        community=home,
        actor=None,
        sheet=Sheet([(1, ["楼号", "室号", "姓名", "身份证号"]), (2, ["1", "101", "李芳", number])]),
    )
    report = roster_import(
        community=other,
        actor=None,
        sheet=Sheet([(1, ["楼号", "室号", "姓名", "身份证号"]), (2, ["2", "202", "李芳", number])]),
    )
    assert report.transfers_requested == 1 and [(r.row, r.column) for r in report.rejected] == [(2, "id_number")]


def digests(community: object) -> dict[str, str]:
    return dict(Resident.objects.filter(community=community).values_list("name", "roster_digest"))


@pytest.mark.django_db
def test_any_edit_of_what_an_import_compares_clears_the_digest() -> None:
    """The database clears a resident's roster digest when anything the import compared changes
    (migration registry.0011), so a re-import trusts the digests it finds."""
    from fangzhou.registry.models import Building, Compound, Grid

    community = community_create(code="F05", name="快五")
    header = ["小区", "楼号", "室号", "姓名", "身份证号", "手机号", "备注", "网格"]
    rows: list[tuple[int, list[Cell]]] = [(1, header)]
    names = ["王" + c for c in "一二三四五六七八九十甲乙丙丁"]
    for i, name in enumerate(names):
        number = make_id("310104", dt.date(1950 + i, 1 + i % 12, 1 + i), i, bool(i % 2))
        compound = "甲苑" if i < 7 else "乙苑" if i < 12 else "丙苑"
        building = str(1 + i % 3) if i < 12 else "9"
        grid = "一网格" if i == 0 else "二网格" if i >= 12 else ""
        note = "备注" if i % 2 else ""
        rows.append((i + 2, [compound, building, str(101 + i), name, number, f"139{i:08d}", note, grid]))
    report = roster_import(community=community, actor=None, sheet=Sheet(rows), today=TODAY)
    assert report.created == len(names)
    kept = digests(community)
    assert all(len(d) == 24 for d in kept.values()) and len(set(kept.values())) == len(names)
    assert im._unchanged_read(community).keys() == set(kept.values())
    resident = {r.name: r for r in Resident.objects.filter(community=community)}
    # Each part of what an import compares, edited one resident or place at a time.
    Resident.objects.filter(pk=resident["王一"].pk).update(note="改了")
    Resident.objects.filter(pk=resident["王二"].pk).update(birth_date=None)
    Resident.objects.filter(pk=resident["王三"].pk).update(phone="", phone_kind="")
    Resident.objects.filter(pk=resident["王四"].pk).update(name="王五五")
    Household.objects.filter(pk=resident["王五"].household_id).update(room="909")
    Resident.objects.filter(pk=resident["王六"].pk).update(note=resident["王六"].note)  # the same value
    Compound.objects.filter(community=community, name="乙苑").update(name="戊苑")  # 王八 … 王乙
    Building.objects.filter(pk=resident["王七"].household.building_id).update(number="7")  # 甲苑 1: 王一, 王四, 王七
    Grid.objects.filter(community=community, name="二网格").update(name="三网格")  # 王丙, 王丁
    after = digests(community)
    cleared = {"王一", "王二", "王三", "王五五", "王五", "王七", "王八", "王九", "王十", "王甲", "王乙", "王丙", "王丁"}
    assert {n for n, d in after.items() if not d} == cleared
    assert after["王六"] == kept["王六"]
    assert im._unchanged_read(community).keys() == {kept["王六"]}
    # The re-import parses the rows of the cleared residents in full, sets them back, audits the
    # changes and stores the digests again; a third import finds every row unchanged.
    again = roster_import(community=community, actor=None, sheet=Sheet(rows), today=TODAY)
    assert not again.rejected and again.created + again.updated + again.unchanged == len(names)
    assert Resident.objects.get(pk=resident["王一"].pk).note == ""  # set back
    assert Resident.objects.get(pk=resident["王四"].pk).name == "王四"
    assert AuditLog.objects.filter(action="resident.update", target_id=str(resident["王一"].pk)).exists()
    assert all(digests(community).values())
    # Any save() of a resident clears it, even one that changes nothing compared: an instance
    # loaded before the last import would write that import's digest back with its old fields.
    stale = Resident.objects.get(pk=resident["王六"].pk)
    stale.save()
    assert Resident.objects.get(pk=stale.pk).roster_digest == ""
    third = roster_import(community=community, actor=None, sheet=Sheet(rows), today=TODAY)
    assert (third.created, third.updated, third.rejected) == (0, 0, []) and all(digests(community).values())


@pytest.mark.django_db
def test_a_resident_whose_building_went_to_another_community_is_still_found() -> None:
    # The residents' digests are read without joining their households: a household outside the
    # community's buildings is looked up on its own, and the re-import counts the row as before.
    from fangzhou.registry.models import Building

    home = community_create(code="F06", name="快六")
    sheet = Sheet(
        [(1, ["楼号", "室号", "姓名", "身份证号"]), (2, ["5", "501", "赵敏", make_id("310104", TODAY, 7, False)])]
    )
    roster_import(community=home, actor=None, sheet=sheet, today=TODAY)
    Building.objects.filter(community=home).update(community=community_create(code="F07", name="快七"))
    assert im._known(home).rooms() == {Resident.objects.get(community=home).household_id: ("5", "501")}
    again = roster_import(community=home, actor=None, sheet=sheet, today=TODAY)
    assert (again.created, again.updated, again.unchanged, again.rejected) == (0, 0, 1, [])
