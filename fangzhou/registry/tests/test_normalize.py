"""The precise rules of roster cells: ID check digits, building and room spellings, phones, names."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fangzhou.registry.roster import normalize as nz

TODAY = dt.date(2022, 4, 1)


class TestResidentId:
    def test_known_valid_number(self) -> None:
        # The GB 11643 worked example: 11010519491231002X.
        facts = nz.resident_id("11010519491231002X", today=TODAY)
        assert facts.birth_date == dt.date(1949, 12, 31)
        assert facts.sex == "F"

    def test_lower_case_x_and_full_width_digits_are_the_same_number(self) -> None:
        assert nz.resident_id("11010519491231002x", today=TODAY).number == "11010519491231002X"
        assert nz.resident_id("１１０１０５１９４９１２３１００２Ｘ", today=TODAY).number == "11010519491231002X"
        assert nz.resident_id(" 110105 19491231002X ", today=TODAY).number == "11010519491231002X"

    def test_wrong_check_digit_is_refused(self) -> None:
        with pytest.raises(nz.CellError, match="校验位"):
            nz.resident_id("110105194912310021", today=TODAY)

    def test_impossible_birth_date_is_refused(self) -> None:
        body = "31010419900230123"
        with pytest.raises(nz.CellError, match="出生日期"):
            nz.resident_id(body + nz.id_check_digit(body), today=TODAY)

    def test_future_birth_date_is_refused(self) -> None:
        body = "31010420300101123"
        with pytest.raises(nz.CellError, match="不合理"):
            nz.resident_id(body + nz.id_check_digit(body), today=TODAY)

    def test_bad_region_is_refused(self) -> None:
        body = "99010419900101123"
        with pytest.raises(nz.CellError, match="地区码"):
            nz.resident_id(body + nz.id_check_digit(body), today=TODAY)

    def test_excel_number_lost_digits_gets_advice(self) -> None:
        with pytest.raises(nz.CellError, match="设为文本"):
            nz.resident_id(3.10104199001011e17, today=TODAY)
        with pytest.raises(nz.CellError, match="set the column to text"):
            nz.resident_id("3.10104E+17", today=TODAY)
        with pytest.raises(nz.CellError, match="设为文本"):
            nz.resident_id("310104199001011000", today=TODAY)

    def test_short_number_is_refused(self) -> None:
        with pytest.raises(nz.CellError, match="18"):
            nz.resident_id("31010419900101", today=TODAY)

    @given(
        born=st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2021, 12, 31)),
        seq=st.integers(min_value=0, max_value=999),
    )
    def test_any_generated_number_round_trips(self, born: dt.date, seq: int) -> None:
        body = f"310115{born:%Y%m%d}{seq:03d}"
        number = body + nz.id_check_digit(body)
        facts = nz.resident_id(number, today=TODAY)
        assert facts.birth_date == born
        assert facts.sex == ("M" if seq % 2 else "F")

    @given(st.integers(min_value=0, max_value=16), st.integers(min_value=1, max_value=9))
    def test_any_single_digit_change_is_caught(self, position: int, delta: int) -> None:
        number = "11010519491231002X"
        changed = number[:position] + str((int(number[position]) + delta) % 10) + number[position + 1 :]
        with pytest.raises(nz.CellError):
            nz.resident_id(changed, today=TODAY)


class TestPlaces:
    @pytest.mark.parametrize("raw", ["3", "3号", "3号楼", "3栋", "3幢", "３号楼", " 3 号楼 ", "03", 3, 3.0, "第3栋"])
    def test_building_spellings_are_one_building(self, raw: object) -> None:
        assert nz.building_number(raw) == "3"  # type: ignore[arg-type]

    def test_building_with_letter(self) -> None:
        assert nz.building_number("12a号楼") == "12A"

    @pytest.mark.parametrize("raw", ["1201", "1201室", "１２０１", 1201, 1201.0, " 1201 "])
    def test_room_spellings_are_one_room(self, raw: object) -> None:
        assert nz.room_number(raw) == "1201"  # type: ignore[arg-type]

    def test_nonsense_building_is_refused(self) -> None:
        with pytest.raises(nz.CellError):
            nz.building_number("东边那栋")


class TestPhone:
    @pytest.mark.parametrize(
        "raw",
        [
            "13812345678",
            13812345678,
            13812345678.0,
            "1.3812345678E+10",
            "138 1234 5678",
            "+86 138-1234-5678",
            "１３８１２３４５６７８",
        ],
    )
    def test_recovered_when_exact(self, raw: object) -> None:
        assert nz.phone(raw) == "+8613812345678"  # type: ignore[arg-type]

    def test_scientific_notation_that_lost_digits_is_refused(self) -> None:
        with pytest.raises(nz.CellError, match="科学计数法"):
            nz.phone("1.38123E+10")

    @pytest.mark.parametrize("raw", ["12812345678", "1381234567", "021-1234567", "400-123-4567", "abc"])
    def test_not_a_mobile(self, raw: str) -> None:
        with pytest.raises(nz.CellError):
            nz.phone(raw)

    def test_scientific_notation_is_exact_only_with_all_eleven_digits_written(self) -> None:
        assert nz.phone("1.3812345670E+10") == "+8613812345670"  # eleven digits written, the last a 0
        with pytest.raises(nz.CellError, match="科学计数法"):
            nz.phone("1.381234567E+10")  # ten digits written: the eleventh is unknown, not 0
        with pytest.raises(nz.CellError, match="科学计数法"):
            nz.phone("1.381234567E+9")  # a ten-digit value

    def test_a_ten_digit_excel_number_is_not_a_mobile(self) -> None:
        # Excel keeps the number itself exact; ten digits are ten digits, never padded.
        for raw in (1381234567.0, 1381234567, 1.38001e9):
            with pytest.raises(nz.CellError, match="11 位"):
                nz.phone(raw)

    @pytest.mark.parametrize(
        "raw", ["138123456789", 138123456789, 138123456789.0, "+86138123456789", "0086138123456789"]
    )
    def test_an_over_long_mobile_is_refused_not_cut(self, raw: object) -> None:
        with pytest.raises(nz.CellError, match="11 位"):
            nz.phone(raw)  # type: ignore[arg-type]

    @pytest.mark.parametrize("raw", ["0086 138 1234 5678", "0086-138-1234-5678", "008613812345678", "8613812345678"])
    def test_the_country_code_is_dropped(self, raw: str) -> None:
        assert nz.phone(raw) == "+8613812345678"

    @pytest.mark.parametrize("raw", ["00861381234567", "861381234567", "008613812345678 9"])
    def test_a_country_code_does_not_make_a_wrong_length_right(self, raw: str) -> None:
        with pytest.raises(nz.CellError, match="11 位"):
            nz.phone(raw)


class TestNames:
    @pytest.mark.parametrize(
        "raw, clean",
        [("张伟", "张伟"), ("张 伟", "张伟"), ("买买提・艾力", "买买提·艾力"), ("John Smith", "John Smith")],
    )
    def test_valid(self, raw: str, clean: str) -> None:
        assert nz.person_name(raw) == clean

    @pytest.mark.parametrize("raw", ["张3", "12345", "", "=cmd()"])
    def test_invalid(self, raw: str) -> None:
        with pytest.raises(nz.CellError):
            nz.person_name(raw)

    def test_sixty_four_characters_is_the_longest_name(self) -> None:
        # Resident.name and Volunteer.name hold 64 characters.
        assert nz.person_name("张" * 64) == "张" * 64
        assert nz.person_name("A" * 64) == "A" * 64
        for raw in ("张" * 65, "A" * 65, "Muhammad " * 7 + "Al"):
            assert len(raw) == 65
            with pytest.raises(nz.CellError, match="too long"):
                nz.person_name(raw)


def test_special_flags_are_canonical_and_ordered() -> None:
    assert nz.special("血透、独居老人") == "elderly_alone,dialysis"
    assert nz.special("无") == ""
    with pytest.raises(nz.CellError):
        nz.special("会唱歌")


def test_masks() -> None:
    assert nz.mask_id("310104198005170012") == "3101**********0012"
    assert nz.mask_phone("13800001234") == "138****1234"
    assert nz.mask_id("") == ""


def test_names_order_the_way_people_count() -> None:
    grids = ["第三网格", "第一网格", "第十网格", "第二网格", "第十二网格", "第四网格"]
    assert sorted(grids, key=nz.label_order_key) == [
        "第一网格",
        "第二网格",
        "第三网格",
        "第四网格",
        "第十网格",
        "第十二网格",
    ]
    assert sorted(["10号楼", "2号楼", "1号楼"], key=nz.label_order_key) == ["1号楼", "2号楼", "10号楼"]
    assert sorted(["东区", "西区", "Grid 2", "Grid 10"], key=nz.label_order_key)[:2] == ["Grid 2", "Grid 10"]
    assert nz.label_order_key("二十三") == ((0, 23),) and nz.label_order_key("一百零五") == ((0, 105),)
