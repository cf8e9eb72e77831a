"""Doors in stair order: unit, floor, door on the floor (a pure function, no database)."""

from __future__ import annotations

from fangzhou.registry.roster.normalize import room_stair_key


def test_floor_by_floor_not_as_text() -> None:
    rooms = ["1001", "702", "101", "1201", "602", "102", "201", "302", "301"]
    assert sorted(rooms)[:2] == ["1001", "101"]  # what sorting the text did
    assert sorted(rooms, key=room_stair_key) == ["101", "102", "201", "301", "302", "602", "702", "1001", "1201"]


def test_units_come_first_then_their_floors() -> None:
    rooms = ["2-101", "1-1201", "1-101", "2-1201", "1-201"]
    assert sorted(rooms, key=room_stair_key) == ["1-101", "1-201", "1-1201", "2-101", "2-1201"]


def test_odd_rooms_do_not_break_the_order() -> None:
    rooms = ["X", "12A", "101", "B301", "A101"]
    ordered = sorted(rooms, key=room_stair_key)
    assert ordered.index("101") < ordered.index("12A") < ordered.index("X")
    assert ordered.index("A101") < ordered.index("B301")
