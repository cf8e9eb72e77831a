"""Pure normalisation and validation of roster cells. No Django imports.

Every checker returns either a clean value or raises :class:`CellError` carrying a reason in
Chinese and English, so that an import can report the row, the column and why.
"""

from __future__ import annotations

import datetime as dt
import operator
import re
import unicodedata
from decimal import Decimal, InvalidOperation
from typing import NamedTuple

from fangzhou.lib.importing import CellError as CellError

# Re-exported: the registry and its callers have always read these here (one implementation, in lib).
from fangzhou.lib.personal import DEFAULT_AREA_CODE as DEFAULT_AREA_CODE
from fangzhou.lib.personal import LANDLINE as LANDLINE
from fangzhou.lib.personal import MOBILE as MOBILE
from fangzhou.lib.personal import Phone as Phone
from fangzhou.lib.personal import PhoneError as PhoneError
from fangzhou.lib.personal import area_code as area_code
from fangzhou.lib.personal import id_check_digit as id_check_digit
from fangzhou.lib.personal import mask_id as mask_id
from fangzhou.lib.personal import mask_phone as mask_phone
from fangzhou.lib.personal import parse_phone as parse_phone
from fangzhou.lib.personal import phone_display as phone_display

# Re-exported: the roster's checkers raise nz.CellError on an nz.Cell.
from fangzhou.lib.sheets import Cell as Cell

_SPACES = re.compile(r"[\s\u3000\u00a0\u200b\ufeff]+")
_DOTS = str.maketrans({"・": "·", "•": "·", "‧": "·", "∙": "·", "．": "·", "⋅": "·"})


def text(value: Cell) -> str:
    """A cell as clean text: full-width folded to half-width, spaces trimmed, Excel floats tidied."""
    if type(value) is str:  # most cells, asked first
        raw = value
    elif value is None:
        return ""
    elif isinstance(value, float):
        if value.is_integer():
            return str(int(value))
        return repr(value)
    elif isinstance(value, dt.datetime):
        return value.date().isoformat()
    elif isinstance(value, dt.date):
        return value.isoformat()
    else:
        raw = str(value)
    # An apostrophe written by our own export to stop formula injection.
    if len(raw) > 1 and raw[0] == "'" and raw[1] in "=+-@":
        raw = raw[1:]
    if raw.isascii():  # NFKC leaves ASCII as it is (most cells: numbers, codes, rooms)
        return raw.strip()
    return unicodedata.normalize("NFKC", raw).strip()


def compact(value: Cell) -> str:
    # ASCII letters and digits only (an ID number, a phone, a room): nothing to fold or take out.
    if type(value) is str and value.isascii() and value.isalnum():
        return value
    return _SPACES.sub("", text(value))


# --- places -----------------------------------------------------------------------------------

_BUILDING = re.compile(r"^(?:第)?0*(\d{1,4}[A-Z]?)(?:号楼|号|栋|幢|楼|座|#)?$")
_ROOM = re.compile(r"^0*([0-9A-Z][0-9A-Z\-]{0,11})(?:室|号|房)?$")


def building_number(value: Cell) -> str:
    """'3', '3号', '3号楼', '3栋', '3幢', '３号楼' are all building '3'."""
    raw = compact(value).upper()
    if not raw:
        raise CellError("楼号为空", "building is empty")
    match = _BUILDING.match(raw)
    if not match:
        raise CellError(f"无法识别的楼号「{raw}」", f"building number {raw!r} not understood")
    return match.group(1)


def building_sort_key(number: str) -> int:
    digits = re.match(r"\d+", number)
    return int(digits.group(0)) * 100 + (ord(number[-1]) - 64 if number[-1].isalpha() else 0) if digits else 0


_CN_DIGITS = dict(zip("零〇一二两三四五六七八九", (0, 0, 1, 2, 2, 3, 4, 5, 6, 7, 8, 9), strict=True))
_NUMBER_RUN = re.compile(r"(\d+|[零〇一二两三四五六七八九十百]+)")


def _cn_number(run: str) -> int:
    """一 1, 十 10, 十二 12, 二十 20, 二十三 23, 一百零五 105; a run of plain digits (一二 12) as written."""
    if "十" not in run and "百" not in run:
        return int("".join(str(_CN_DIGITS[c]) for c in run))
    total, digit = 0, 0
    for c in run:
        if c == "百":
            total += (digit or 1) * 100
            digit = 0
        elif c == "十":
            total += (digit or 1) * 10
            digit = 0
        else:
            digit = _CN_DIGITS[c]
    return total + digit


def label_order_key(label: str) -> tuple[tuple[int, int | str], ...]:
    """Order names the way people count: 第二网格 before 第十网格, 2号楼 before 10号楼 (text order
    would put 第三 before 第二, and 10 before 2). Numbers in digits or Chinese numerals compare as
    numbers, the rest as text."""
    key: list[tuple[int, int | str]] = []
    for i, part in enumerate(_NUMBER_RUN.split(label)):
        if not part:
            continue
        key.append((0, int(part)) if part.isdigit() else (0, _cn_number(part)) if i % 2 else (1, part))
    return tuple(key)


def room_number(value: Cell) -> str:
    """'1201', '1201室', '１２０１' are all room '1201'."""
    raw = compact(value).upper()
    if not raw:
        raise CellError("室号为空", "room is empty")
    match = _ROOM.match(raw)
    if not match:
        raise CellError(f"无法识别的室号「{raw}」", f"room {raw!r} not understood")
    return match.group(1)


_STAIR = re.compile(r"^([A-Z]*)(\d*)([A-Z]*)$")


def room_stair_key(room: str) -> tuple[int, str, int, int, str, str]:
    """Order doors the way a volunteer climbs the stairs: unit (2-1201: unit 2), then floor (1201:
    floor 12), then the door on the floor (01), then any letter. Sorting the text would put 1001
    before 101; sorting the digits as one number puts 2-101 after 1201 of unit 1 only by luck."""
    parts = room.strip().upper().split("-")
    unit, last = parts[:-1], parts[-1]
    unit_no = next((int(p) for p in unit if p.isdigit()), 0)
    match = _STAIR.match(last)
    if match is None or not match.group(2):
        return (unit_no, "-".join(unit), 1 << 30, 0, last, room)
    block, digits, letter = match.groups()
    floor, door = (int(digits[:-2]), int(digits[-2:])) if len(digits) >= 3 else (1, int(digits))
    return (unit_no, "-".join(unit) + block, floor, door, letter, room)


def compound_name(value: Cell) -> str:
    return _SPACES.sub(" ", text(value)).strip()[:64]


# --- people -----------------------------------------------------------------------------------

_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_NAME = re.compile(rf"^[{_CJK}A-Za-z][{_CJK}A-Za-z ·.'\-]*$")
_HAN_NAME = re.compile(rf"[{_CJK}·]+")
# Most names: Han characters only, at most 64 of them. No character of those ranges is a digit, a
# space or one of _DOTS, so such a name passes every check below unchanged (tested).
_HAN_ONLY = re.compile(rf"[{_CJK}]{{1,64}}")


def person_name(value: Cell) -> str:
    cleaned = text(value)
    if _HAN_ONLY.fullmatch(cleaned):
        return cleaned
    raw = _SPACES.sub(" ", cleaned.translate(_DOTS)).strip()
    if not raw:
        raise CellError("姓名为空", "name is empty")
    if any(ch.isdigit() for ch in raw):
        raise CellError(f"姓名「{raw}」含有数字", f"name {raw!r} contains digits")
    if len(raw) > 64:
        raise CellError(
            f"姓名过长（{len(raw)} 个字符，最多 64 个）", f"name is too long ({len(raw)} characters, at most 64)"
        )
    if not _NAME.match(raw):
        raise CellError(f"姓名「{raw}」含有无效字符", f"name {raw!r} has characters a name cannot have")
    if _HAN_NAME.fullmatch(raw.replace(" ", "")):
        raw = raw.replace(" ", "")
    return raw


SEX_ALIASES = {"男": "M", "m": "M", "male": "M", "女": "F", "f": "F", "female": "F"}


def sex(value: Cell) -> str:
    raw = compact(value).lower()
    if not raw:
        return ""
    if raw in SEX_ALIASES:
        return SEX_ALIASES[raw]
    raise CellError(f"无法识别的性别「{raw}」", f"sex {raw!r} not understood (男/女)")


_DATE_PATTERNS = (
    re.compile(r"^(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?$"),
    re.compile(r"^(\d{4})(\d{2})(\d{2})$"),
)


def birth_date(value: Cell, *, today: dt.date) -> dt.date | None:
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        parsed = value.date()
    elif isinstance(value, dt.date):
        parsed = value
    else:
        raw = compact(value)
        if not raw:
            return None
        parsed_or_none = None
        for pattern in _DATE_PATTERNS:
            match = pattern.match(raw)
            if match:
                try:
                    parsed_or_none = dt.date(int(match[1]), int(match[2]), int(match[3]))
                except ValueError:
                    raise CellError(f"日期「{raw}」不存在", f"date {raw!r} does not exist") from None
                break
        if parsed_or_none is None:
            raise CellError(f"无法识别的日期「{raw}」", f"date {raw!r} not understood (YYYY-MM-DD)")
        parsed = parsed_or_none
    if parsed > today or parsed.year < 1890:
        raise CellError(f"出生日期「{parsed}」不合理", f"birth date {parsed} is not plausible")
    return parsed


_MOBILE = re.compile(r"1[3-9][0-9]{9}")
_SCIENTIFIC = re.compile(r"(\d+)(?:\.(\d+))?[eE]\+?(\d+)")
_POINT_ZERO = re.compile(r"\d+\.0+")


def phone_number(value: Cell, *, area: str = DEFAULT_AREA_CODE) -> Phone | None:
    """A mainland mobile or landline, or a Hong Kong or Macao number (:func:`lib.personal.parse_phone`),
    as E.164 with its kind; None for an empty cell. A landline written without its area code
    ("64318888") takes ``area``, the community's. Excel numbers are recovered when they are exact."""
    if value is None or value == "":
        return None
    if isinstance(value, int):
        raw = str(value)
    elif isinstance(value, float):
        if not value.is_integer():
            raise CellError("电话号码不是整数", "phone is not a whole number")
        raw = str(int(value))
    else:
        raw = compact(value)
        if not raw:
            return None
        if _MOBILE.fullmatch(raw):  # the common case, checked first: a roster is mostly mobiles
            return Phone("+86" + raw, MOBILE)
        sci = _SCIENTIFIC.fullmatch(raw)
        if sci:
            # Exact only when the mantissa, as written, carries every digit of the number.
            written = (sci[1] + (sci[2] or "")).lstrip("0")
            if len(written) < 11:
                raise CellError(
                    "电话号码被 Excel 变成科学计数法并丢失了数字，请把该列设为文本后重新填写",
                    "phone was turned into scientific notation and lost digits; set the column to text",
                )
            try:
                raw = str(int(Decimal(raw)))
            except InvalidOperation:  # pragma: no cover - the regex admits only numbers
                raise CellError("电话号码无效", "phone is not valid") from None
        elif _POINT_ZERO.fullmatch(raw):
            raw = raw.split(".")[0]
    try:
        return parse_phone(raw, area=area)
    except PhoneError as exc:
        raise CellError(exc.zh, exc.en) from None


def phone(value: Cell, *, area: str = DEFAULT_AREA_CODE) -> str:
    """:func:`phone_number` as its E.164 text, "" for an empty cell."""
    found = phone_number(value, area=area)
    return found.e164 if found is not None else ""


# --- identity documents -----------------------------------------------------------------------

ID_TYPE_ALIASES = {
    "": "",
    "身份证": "resident_id",
    "居民身份证": "resident_id",
    "二代身份证": "resident_id",
    "身份证号": "resident_id",
    "resident_id": "resident_id",
    "idcard": "resident_id",
    "护照": "passport",
    "passport": "passport",
    "港澳居民来往内地通行证": "hk_macao",
    "港澳通行证": "hk_macao",
    "回乡证": "hk_macao",
    "hk_macao": "hk_macao",
    "台湾居民来往大陆通行证": "taiwan",
    "台胞证": "taiwan",
    "taiwan": "taiwan",
    "外国人永久居留身份证": "foreign_pr",
    "外国人永久居留证": "foreign_pr",
    "永居证": "foreign_pr",
    "foreign_pr": "foreign_pr",
}

ID_TYPE_LABELS = {
    "resident_id": "居民身份证",
    "passport": "护照",
    "hk_macao": "港澳居民来往内地通行证",
    "taiwan": "台湾居民来往大陆通行证",
    "foreign_pr": "外国人永久居留身份证",
}


def id_type(value: Cell) -> str:
    raw = compact(value).lower()
    if raw in ID_TYPE_ALIASES:
        return ID_TYPE_ALIASES[raw]
    raise CellError(f"无法识别的证件类型「{raw}」", f"document type {raw!r} not understood")


_PROVINCES = frozenset(
    [
        "11",
        "12",
        "13",
        "14",
        "15",
        "21",
        "22",
        "23",
        "31",
        "32",
        "33",
        "34",
        "35",
        "36",
        "37",
        "41",
        "42",
        "43",
        "44",
        "45",
        "46",
        "50",
        "51",
        "52",
        "53",
        "54",
        "61",
        "62",
        "63",
        "64",
        "65",
        "71",
        "81",
        "82",
        "83",
    ]
)


class IdFacts(NamedTuple):  # a tuple: made for nearly every row of a roster, so cheap to build
    number: str
    birth_date: dt.date
    sex: str


_LOST_DIGITS = CellError(
    "证件号码被 Excel 存成了数字，丢失了末尾几位；请把该列设为文本后重新填写",
    "the ID number was stored by Excel as a number and lost digits; set the column to text",
)


_ID_SCIENTIFIC = re.compile(r"\d+(\.\d+)?E\+?\d+")
_ID_SHAPE = re.compile(r"\d{17}[\dX]")


# The check digit's sum from the characters' codes: sum(w * (c - 48)) = sum(w * c) - 48 * sum(w).
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_OFFSET = 48 * sum(_ID_WEIGHTS)
_ID_CHECK = "10X98765432"


def _id_check_digit(digits17: bytes) -> str:
    """:func:`lib.personal.id_check_digit` for 17 ASCII digits already checked (tested to agree)."""
    return _ID_CHECK[(sum(map(_MUL, digits17, _ID_WEIGHTS)) - _ID_OFFSET) % 11]


_MUL = operator.mul


def resident_id(value: Cell, *, today: dt.date) -> IdFacts:
    if isinstance(value, float) or (isinstance(value, int) and value > 10**15):
        raise _LOST_DIGITS
    raw = compact(value).upper()
    if "E" in raw and _ID_SCIENTIFIC.fullmatch(raw):
        raise _LOST_DIGITS
    if not _ID_SHAPE.fullmatch(raw):
        raise CellError(
            f"身份证号「{mask_id(raw)}」应为 18 位（17 位数字加数字或 X）",
            "a resident ID number has 18 characters: 17 digits, then a digit or X",
        )
    if raw[:2] not in _PROVINCES:
        raise CellError("身份证号的地区码无效", "the ID number's region code is not valid")
    try:
        born = dt.date(int(raw[6:10]), int(raw[10:12]), int(raw[12:14]))
    except ValueError:
        raise CellError("身份证号中的出生日期不存在", "the birth date inside the ID number does not exist") from None
    if born > today or born.year < 1890:
        raise CellError("身份证号中的出生日期不合理", "the birth date inside the ID number is not plausible")
    # \d admits other scripts' digits too: those take the general check digit.
    if raw.isascii():
        check = _ID_CHECK[(sum(map(_MUL, raw[:17].encode(), _ID_WEIGHTS)) - _ID_OFFSET) % 11]  # _id_check_digit
    else:
        check = id_check_digit(raw[:17])
    if check != raw[17]:
        if raw.endswith("000"):
            raise _LOST_DIGITS
        raise CellError("身份证号校验位错误", "the ID number's check digit is wrong")
    return IdFacts(raw, born, "M" if int(raw[16]) % 2 else "F")


_OTHER_DOCS = {
    "passport": re.compile(r"^[A-Z0-9]{5,17}$"),
    "hk_macao": re.compile(r"^[HM]\d{8}(\d{2})?$"),
    "taiwan": re.compile(r"^\d{8}(\d{2})?$"),
    "foreign_pr": re.compile(r"^([A-Z]{3}\d{12}|9\d{16}[\dX])$"),
}


def other_document(kind: str, value: Cell) -> str:
    raw = compact(value).upper()
    if not _OTHER_DOCS[kind].match(raw):
        label = ID_TYPE_LABELS[kind]
        raise CellError(f"{label}号码格式不正确", f"{kind} document number format is not valid")
    return raw


# --- categories -------------------------------------------------------------------------------

RESIDENT_TYPE_ALIASES = {
    "户籍": "registered",
    "户籍人口": "registered",
    "本地户籍": "registered",
    "registered": "registered",
    "常住": "permanent",
    "常住人口": "permanent",
    "非户籍常住": "permanent",
    "人户分离": "permanent",
    "permanent": "permanent",
    "租户": "tenant",
    "租客": "tenant",
    "租住": "tenant",
    "tenant": "tenant",
    "临时": "temporary",
    "临时居住": "temporary",
    "暂住": "temporary",
    "temporary": "temporary",
    "其他": "other",
    "other": "other",
}
RESIDENT_TYPE_LABELS = {
    "registered": "户籍",
    "permanent": "常住",
    "tenant": "租户",
    "temporary": "临时",
    "other": "其他",
}


def resident_type(value: Cell) -> str:
    raw = compact(value).lower()
    if not raw:
        return ""
    if raw in RESIDENT_TYPE_ALIASES:
        return RESIDENT_TYPE_ALIASES[raw]
    raise CellError(
        f"无法识别的人员类型「{raw}」（可填：户籍、常住、租户、临时、其他）",
        f"resident type {raw!r} not understood (registered, permanent, tenant, temporary, other)",
    )


SPECIAL_ORDER = (
    "elderly_alone",
    "dialysis",
    "chemotherapy",
    "pregnant",
    "disabled",
    "limited_mobility",
    "bedridden",
    "chronic",
)
SPECIAL_LABELS = {
    "elderly_alone": "独居老人",
    "dialysis": "血透",
    "chemotherapy": "化疗",
    "pregnant": "孕妇",
    "disabled": "残疾",
    "limited_mobility": "行动不便",
    "bedridden": "卧床",
    "chronic": "慢性病",
}
SPECIAL_ALIASES = {
    **{code: code for code in SPECIAL_ORDER},
    **{label: code for code, label in SPECIAL_LABELS.items()},
    "独居": "elderly_alone",
    "孤老": "elderly_alone",
    "透析": "dialysis",
    "血液透析": "dialysis",
    "放化疗": "chemotherapy",
    "肿瘤化疗": "chemotherapy",
    "孕产妇": "pregnant",
    "残疾人": "disabled",
    "卧床不起": "bedridden",
    "长期卧床": "bedridden",
    "慢病": "chronic",
}
_SPECIAL_SPLIT = re.compile(r"[,，、;；/|\s]+")


def special(value: Cell) -> str:
    raw = text(value)
    codes: set[str] = set()
    for part in _SPECIAL_SPLIT.split(raw):
        key = part.strip().lower()
        if not key or key in {"无", "none", "-"}:
            continue
        if key not in SPECIAL_ALIASES:
            raise CellError(
                f"无法识别的特殊人群「{part}」（可填：{'、'.join(SPECIAL_LABELS.values())}）",
                f"special-care flag {part!r} not understood",
            )
        codes.add(SPECIAL_ALIASES[key])
    return ",".join(code for code in SPECIAL_ORDER if code in codes)


def special_labels(codes: str) -> str:
    return "、".join(SPECIAL_LABELS[c] for c in codes.split(",") if c in SPECIAL_LABELS)


def note(value: Cell) -> str:
    return text(value)[:500]
