"""How a person types a place into the search box, and how a building is named to a person."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fangzhou.registry.addressing import PlaceQuery, building_label, household_label, parse_place


def test_a_building_is_named_with_its_compound() -> None:
    assert building_label("华新一村", "1") == "华新一村 1号楼"
    assert household_label("华新二村", "1", "101") == "华新二村 1号楼 101室"


@pytest.mark.parametrize(
    ("typed", "compound", "building", "unit", "room"),
    [
        ("华新一村1号楼101", "华新一村", "1", "", "101"),
        ("华新一村 1号楼 101室", "华新一村", "1", "", "101"),
        ("华新一村1-101", "华新一村", "1", "", "101"),
        ("一村1-101", "一村", "1", "", "101"),  # a compound's short name
        ("华新一村12", "华新一村", "12", "", ""),  # a whole building
        ("1号楼101", "", "1", "", "101"),
        ("1号楼101室", "", "1", "", "101"),
        ("1号101", "", "1", "", "101"),
        ("1栋101", "", "1", "", "101"),
        ("1幢101", "", "1", "", "101"),
        ("3#1201", "", "3", "", "1201"),
        ("1-101", "", "1", "", "101"),
        ("1 - 101", "", "1", "", "101"),
        ("１－１０１", "", "1", "", "101"),  # full-width, as a phone keyboard may give
        ("1—101", "", "1", "", "101"),
        ("1-1-101", "", "1", "1", "101"),  # building, unit, room
        ("1栋1单元101室", "", "1", "1", "101"),
        ("1号楼2单元302", "", "1", "2", "302"),
        ("12a-0101", "", "12A", "", "101"),
        ("第3号楼1201", "", "3", "", "1201"),
        ("1号楼", "", "1", "", ""),
    ],
)
def test_place_forms(typed: str, compound: str, building: str, unit: str, room: str) -> None:
    assert parts(parse_place(typed)) == (compound, building, unit, room)


def parts(place: PlaceQuery | None) -> tuple[str, str, str, str] | None:
    return None if place is None else (place.compound, place.building, place.unit, place.room)


def test_only_a_bare_dash_may_also_mean_unit_and_room() -> None:
    assert parse_place("1-101").dashed  # building 1 room 101, or unit 1 room 101
    assert not parse_place("1号楼101").dashed  # 号楼 says which number is the building
    assert not parse_place("华新一村1-101").dashed
    assert not parse_place("1-1-101").dashed


@pytest.mark.parametrize("typed", ["", "1201", "13812345678", "张三", "zsf", "zhang san", "101室", "-", "#"])
def test_what_is_not_a_place(typed: str) -> None:
    assert parse_place(typed) is None


def test_a_unit_is_looked_for_as_written_by_a_roster_with_units_and_without() -> None:
    assert PlaceQuery("", "1", "2", "101").rooms == ("2-101", "101")
    assert PlaceQuery("", "1", "", "101").rooms == ("101",)
    assert PlaceQuery("", "1").rooms == ()


@given(
    compound=st.sampled_from(["", "华新一村", "一村", "锦绣华庭"]),
    building=st.integers(min_value=1, max_value=9999),
    letter=st.sampled_from(["", "A", "b"]),
    sep=st.sampled_from(["号楼", "号", "栋", "幢", "#", "-", " - "]),
    unit=st.one_of(st.none(), st.integers(min_value=1, max_value=12)),
    room=st.integers(min_value=101, max_value=3299),
    suffix=st.sampled_from(["", "室"]),
)
def test_every_spelling_gives_back_its_parts(
    compound: str, building: int, letter: str, sep: str, unit: int | None, room: int, suffix: str
) -> None:
    unit_text = "" if unit is None else f"{unit}单元"
    typed = f"{compound}{building}{letter}{sep}{unit_text}{room}{suffix}"
    assert parts(parse_place(typed)) == (
        compound,
        f"{building}{letter.upper()}",
        "" if unit is None else str(unit),
        str(room),
    )


@given(st.text(max_size=60))
def test_any_text_is_parsed_or_refused_never_raises(text: str) -> None:
    place = parse_place(text)
    if place is not None:
        assert place.building and place.building[0].isdigit()
        assert place.room == "0" or not place.room.startswith("0")  # the roster strips leading zeros too
