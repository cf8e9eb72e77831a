"""Pure: how a building and a flat are named to a person, and how a person types one. No Django.

A community has several 1号楼, so a building is never named by its number alone: it is always
"华新一村 1号楼", and a flat "华新一村 1号楼 101室". ``building_label`` and ``household_label`` are
the one way to write them (``Building.full_label`` and ``Household.full_label`` call them).

``parse_place`` reads what a volunteer types into a search box: "华新一村1号楼101", "一村1-101"
(a compound's short name), "1号楼101", "1-101", "1栋1单元101室", "1-1-101". It returns the parts
as typed; the registry's search matches the compound text against the names and short names of
the compounds the user may see.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass


def building_label(compound: str, number: str) -> str:
    """ "华新一村", "1" → "华新一村 1号楼"."""
    return f"{compound} {number}号楼" if compound else f"{number}号楼"


def household_label(compound: str, number: str, room: str) -> str:
    """ "华新一村", "1", "101" → "华新一村 1号楼 101室"."""
    return f"{building_label(compound, number)} {room}室"


@dataclass(frozen=True)
class PlaceQuery:
    compound: str  # the text before the building number, as typed ("" when none)
    building: str  # the building number, normalised as the roster stores it ("1", "12A")
    unit: str = ""  # the unit (单元), "" when none
    room: str = ""  # the room, "" for a whole building
    dashed: bool = False  # "1-101": may also be unit 1, room 101 of a roster that writes units into rooms

    @property
    def rooms(self) -> tuple[str, ...]:
        """The room values that may hold this flat: a roster with units writes "1-101" (unit 1,
        room 101); one without writes "101" and the unit typed adds nothing."""
        if not self.room:
            return ()
        if self.unit:
            return (f"{self.unit}-{self.room}", self.room)
        return (self.room,)


_SPACES = re.compile(r"[\s\u3000\u00a0\u200b\ufeff]+")
_DASHES = str.maketrans({"—": "-", "–": "-", "－": "-", "_": "-", "/": "-", "、": "-", "~": "-"})
_PLACE = re.compile(
    r"^(?P<compound>\D*?)"
    r"第?0*(?P<building>\d{1,4}[A-Z]?)"
    r"(?:(?P<sep>号楼|号|栋|幢|楼|座|#|-)"
    r"(?:0*(?P<unit>\d{1,2})(?:单元|-))?"
    r"(?:0*(?P<room>[0-9][0-9A-Z]{0,5})(?:室|号|房)?)?)?$"
)


def parse_place(query: str) -> PlaceQuery | None:
    """The building (and unit and room) a query names, or None when it names no place.

    A bare run of digits ("1201") is not a place here: it may be a room or the end of a phone
    number, which the search looks up as such. A place needs a separator after the building
    ("1号楼", "1-", "1#") or a compound before it ("华新一村12")."""
    text = _SPACES.sub("", unicodedata.normalize("NFKC", query)).upper().translate(_DASHES)
    if not text or len(text) > 40:
        return None
    match = _PLACE.match(text)
    if match is None:
        return None
    compound = match["compound"].strip("-#·")
    if not compound and not match["sep"]:
        return None
    if compound and any(ch in compound for ch in "-#"):
        return None
    return PlaceQuery(
        compound=compound,
        building=match["building"],
        unit=match["unit"] or "",
        room=match["room"] or "",
        dashed=match["sep"] == "-" and not compound and not match["unit"],
    )
