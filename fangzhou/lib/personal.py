"""Personal numbers, the one implementation: the resident ID's check digit, phone numbers (parsed
to E.164 with a kind) and the masks every list, export and audit detail uses
(``3101**********1234``, ``138****1234``, ``021-****8888``). No Django."""

from __future__ import annotations

import operator
import re
import unicodedata
from typing import NamedTuple

from fangzhou.lib.errors import Refused

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"


def id_check_digit(first17: str) -> str:
    """GB 11643-1999: ISO 7064 MOD 11-2 over the first 17 digits."""
    if len(first17) != len(_WEIGHTS):
        raise ValueError("the check digit is computed over 17 digits")
    total = sum(map(operator.mul, map(int, first17), _WEIGHTS))
    return _CHECK[total % 11]


def mask_id(value: str) -> str:
    if not value:
        return ""
    if len(value) <= 8:
        return value[:1] + "*" * (len(value) - 2) + value[-1:] if len(value) > 2 else "*" * len(value)
    return value[:4] + "*" * (len(value) - 8) + value[-4:]


def mask_phone(value: str) -> str:
    """A phone for a list: the last 4 digits (what a resident types on the QR pages) and where it is
    from, never the rest: "138****5678", "021-****8888", "+852 ****4567"."""
    if value.startswith("+86"):
        national = value[3:]
        if not _MOBILE_CN.fullmatch(national) and len(national) >= 9:
            area_digits, local = _landline_split(national)
            return f"0{area_digits}-" + "*" * (len(local) - 4) + local[-4:]
        value = national
    elif value[:4] in ("+852", "+853") and len(value) == 12:
        return f"{value[:4]} ****{value[-4:]}"
    if len(value) < 7:
        return "*" * len(value)
    return value[:3] + "*" * (len(value) - 7) + value[-4:]


def mask_name(value: str) -> str:
    """A person's name on a page without an account (the household page): the surname (the first
    character) kept, the rest masked: "张伟" → "张*", "欧阳娜娜" → "欧***", "John Smith" → "J*** S****"."""
    value = (value or "").strip()
    if not value:
        return ""
    if " " in value:
        return " ".join(word[:1] + "*" * max(1, len(word) - 1) for word in value.split())
    return value[:1] + "*" * max(1, len(value) - 1)


# --- phones -----------------------------------------------------------------------------------
# Stored as E.164 ("+8613812345678", "+862164318888", "+85261234567") with a kind. Parsing and
# validity come from phonenumberslite (Google's libphonenumber metadata, maintained, pure Python);
# mainland mobiles keep today's fast check (1[3-9] and nine digits) so a roster is read as quickly
# as before and a number accepted yesterday is accepted today.

MOBILE = "mobile"
LANDLINE = "landline"
# Mainland China, Hong Kong, Macao: the numbers a committee office meets.
PHONE_REGIONS = frozenset({"CN", "HK", "MO"})
DEFAULT_AREA_CODE = "021"

_MOBILE_CN = re.compile(r"1[3-9][0-9]{9}")
_SEPARATORS = re.compile(r"[\s\u3000\u00a0\u200b\ufeff\-‐‑–—.()（）/]+")
_EXTENSION = re.compile(r"(转|分机|ext\.?|x)[0-9]+$", re.IGNORECASE)
_AREA_CODE = re.compile(r"0?(10|2[0-9]|[3-9][0-9]{2})")


class PhoneError(Refused):
    """A phone number that cannot be accepted, with the reason in Chinese and English."""


class Phone(NamedTuple):  # a tuple: made for every row of a roster, so cheap to build
    e164: str
    kind: str  # MOBILE or LANDLINE


def area_code(value: str) -> str:
    """A mainland area code as people write it ("021", "21", "0571") as its digits without the 0;
    "" when it is not one."""
    raw = _SEPARATORS.sub("", value or "")
    return raw.lstrip("0") if _AREA_CODE.fullmatch(raw) else ""


def _invalid(raw: str) -> PhoneError:
    return PhoneError(
        f"电话号码「{raw}」无效：请填 11 位手机号、带区号的固话（如 021-64318888）或 +852/+853 号码",
        f"phone {raw!r} is not valid: write an 11-digit mobile, a landline with its area code "
        "(e.g. 021-64318888) or a +852/+853 number",
    )


def parse_phone(value: str, *, area: str = DEFAULT_AREA_CODE) -> Phone:
    """A mainland mobile or landline, or a Hong Kong or Macao number, as E.164 with its kind.

    Accepts what offices write: "13812345678", "+86 138 1234 5678", "021-6431 8888",
    "(021)64318888", "+86 21 6431 8888", "64318888" (a landline without its area code takes
    ``area``, the community's), "+852 6123 4567", "00853 6612 3456", "85261234567". Raises
    :class:`PhoneError` for anything else (service numbers, other countries, extensions)."""
    raw = _SEPARATORS.sub("", unicodedata.normalize("NFKC", value or ""))
    if raw.startswith("00"):
        raw = "+" + raw[2:]
    # Mainland mobiles first (the fast path): bare, +86 or 86 in front.
    bare = raw[3:] if raw.startswith("+86") else raw[2:] if raw.startswith("86") and len(raw) == 13 else raw
    if _MOBILE_CN.fullmatch(bare):
        return Phone("+86" + bare, MOBILE)
    if _EXTENSION.search(raw):
        raise PhoneError(
            f"电话号码「{value}」带分机号：请只填总机号码，分机写在备注里",
            f"phone {value!r} has an extension: keep the main number here and put the extension in the note",
        )
    if not re.fullmatch(r"\+?[0-9]{5,15}", raw):
        raise _invalid(value)
    if not raw.startswith("+"):
        if re.fullmatch(r"85[23][0-9]{8}", raw):  # a Hong Kong or Macao number written without its +
            raw = "+" + raw
        elif re.fullmatch(r"[2-9][0-9]{6,7}", raw):  # a local landline: the community's area code
            digits = area_code(area)
            if not digits:
                raise _invalid(value)
            raw = f"+86{digits}{raw}"
    import phonenumbers  # lazily: most rows are mobiles and never need it

    try:
        number = phonenumbers.parse(raw, "CN")
    except phonenumbers.NumberParseException:
        raise _invalid(value) from None
    region = phonenumbers.region_code_for_number(number)
    if region not in PHONE_REGIONS:
        raise PhoneError(
            f"电话号码「{value}」不是大陆、香港或澳门的号码",
            f"phone {value!r} is not a mainland China, Hong Kong or Macao number",
        )
    if not phonenumbers.is_valid_number(number):
        raise _invalid(value)
    kind = phonenumbers.number_type(number)
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    if kind == phonenumbers.PhoneNumberType.MOBILE or (
        region != "CN" and kind == phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE
    ):
        return Phone(e164, MOBILE)
    landline = kind in (phonenumbers.PhoneNumberType.FIXED_LINE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE)
    # A household's landline has 7 or 8 digits after the area code; shorter ones are hotlines.
    if landline and (region != "CN" or len(_landline_split(e164[3:])[1]) >= 7):
        return Phone(e164, LANDLINE)
    raise PhoneError(
        f"电话号码「{value}」是服务号码（如 400/800/95 开头），不是住户的电话",
        f"phone {value!r} is a service number (400, 800, 95…), not a household's phone",
    )


def _landline_split(national: str) -> tuple[str, str]:
    """A mainland landline's national digits (without the 0) as (area code, local number)."""
    size = 2 if national[:2] == "10" or national[:1] == "2" else 3
    return national[:size], national[size:]


def phone_display(value: str) -> str:
    """A stored phone as people write it: "13812345678", "021-64318888", "+852 6123 4567"."""
    if not value.startswith("+"):
        return value
    if value.startswith("+86"):
        national = value[3:]
        if _MOBILE_CN.fullmatch(national):
            return national
        area_digits, local = _landline_split(national)
        return f"0{area_digits}-{local}"
    if value[:4] in ("+852", "+853"):
        return f"{value[:4]} {value[4:8]} {value[8:]}".rstrip()
    return value
