"""Phones as committee offices have them: mainland mobiles, landlines written every way (often the
only number of an elderly resident living alone), Hong Kong and Macao numbers. Stored as E.164
with a kind, masked in lists, and the last 4 digits still identify a household."""

from __future__ import annotations

import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fangzhou.lib.personal import (
    LANDLINE,
    MOBILE,
    Phone,
    PhoneError,
    area_code,
    mask_phone,
    parse_phone,
    phone_display,
)

# What the office writes → (E.164, kind, list mask, display).
ACCEPTED = [
    ("13812345678", "+8613812345678", MOBILE, "138****5678", "13812345678"),
    ("+86 138 1234 5678", "+8613812345678", MOBILE, "138****5678", "13812345678"),
    ("0086-138-1234-5678", "+8613812345678", MOBILE, "138****5678", "13812345678"),
    ("021-6431 8888", "+862164318888", LANDLINE, "021-****8888", "021-64318888"),
    ("02164318888", "+862164318888", LANDLINE, "021-****8888", "021-64318888"),
    ("(021)64318888", "+862164318888", LANDLINE, "021-****8888", "021-64318888"),
    ("（021）6431-8888", "+862164318888", LANDLINE, "021-****8888", "021-64318888"),
    ("+86 21 6431 8888", "+862164318888", LANDLINE, "021-****8888", "021-64318888"),
    ("64318888", "+862164318888", LANDLINE, "021-****8888", "021-64318888"),  # the community's area code
    ("6431 8888", "+862164318888", LANDLINE, "021-****8888", "021-64318888"),
    ("010-6512 3456", "+861065123456", LANDLINE, "010-****3456", "010-65123456"),
    ("0571-8888 6666", "+8657188886666", LANDLINE, "0571-****6666", "0571-88886666"),
    ("+852 6123 4567", "+85261234567", MOBILE, "+852 ****4567", "+852 6123 4567"),
    ("00852 6123 4567", "+85261234567", MOBILE, "+852 ****4567", "+852 6123 4567"),
    ("85261234567", "+85261234567", MOBILE, "+852 ****4567", "+852 6123 4567"),
    ("+853 6612 3456", "+85366123456", MOBILE, "+853 ****3456", "+853 6612 3456"),
    ("+852 2123 4567", "+85221234567", LANDLINE, "+852 ****4567", "+852 2123 4567"),
]


@pytest.mark.parametrize(("raw", "e164", "kind", "masked", "shown"), ACCEPTED)
def test_every_way_an_office_writes_a_number(raw: str, e164: str, kind: str, masked: str, shown: str) -> None:
    assert parse_phone(raw) == Phone(e164, kind)
    assert mask_phone(e164) == masked
    assert phone_display(e164) == shown
    # What a list shows never carries more than the last 4 digits of the number itself.
    assert masked.endswith(e164[-4:])


def test_a_landline_without_area_code_takes_the_communitys() -> None:
    assert parse_phone("88886666", area="0571") == Phone("+8657188886666", LANDLINE)
    assert parse_phone("64318888", area="21") == Phone("+862164318888", LANDLINE)
    assert area_code("021") == area_code("21") == "21"
    assert area_code("abc") == ""


REFUSED = [
    ("021-6431 888", "无效"),  # a digit short
    ("12345678", "无效"),
    ("400-820-8820", "服务号码"),
    ("95588", "无效"),
    ("010-95000", "服务号码"),  # 5 digits after the area code: a hotline, not a flat
    ("021-64318888转123", "分机"),
    ("+1 650 253 0000", "香港或澳门"),
    ("+886 912 345 678", "香港或澳门"),
    ("abc", "无效"),
]


@pytest.mark.parametrize(("raw", "reason"), REFUSED)
def test_what_is_not_a_households_phone_is_refused_with_a_reason(raw: str, reason: str) -> None:
    with pytest.raises(PhoneError) as refused:
        parse_phone(raw)
    assert reason in refused.value.zh
    assert refused.value.en  # both languages


def test_the_legacy_eleven_digit_form_still_masks_the_same() -> None:
    assert mask_phone("13800001234") == "138****1234"
    assert mask_phone("") == ""


# --- properties -------------------------------------------------------------------------------

_cn_mobile = st.from_regex(r"\A1[3-9][0-9]{9}\Z")
_separators = st.sampled_from(["", " ", "-", "  "])


@st.composite
def _written(draw: st.DrawFn) -> tuple[str, str]:
    """A mainland mobile as people write it, and its digits."""
    digits = draw(_cn_mobile)
    sep = draw(_separators)
    prefix = draw(st.sampled_from(["", "+86", "+86 ", "0086", "86"]))
    return prefix + sep.join([digits[:3], digits[3:7], digits[7:]]), digits


@given(_written())
def test_a_mainland_mobile_however_written_is_the_same_e164(case: tuple[str, str]) -> None:
    raw, digits = case
    assert parse_phone(raw) == Phone("+86" + digits, MOBILE)
    assert mask_phone("+86" + digits) == digits[:3] + "****" + digits[-4:]


_plausible = st.builds(
    lambda prefix, body, sep: prefix + sep + body,
    st.sampled_from(["", "0", "021", "(021)", "0571", "010", "+86", "86", "+852", "00853", "852", "400"]),
    st.from_regex(r"\A[0-9]{4,11}\Z"),
    _separators,
)


@settings(max_examples=400)
@given(st.one_of(st.text(alphabet="0123456789+-() 转x٣", max_size=18), _plausible))
def test_whatever_is_accepted_is_a_valid_e164_the_last_4_digits_identify(raw: str) -> None:
    try:
        found = parse_phone(raw)
    except PhoneError:
        return
    number = phonenumbers.parse(found.e164, None)
    assert phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164) == found.e164
    assert phonenumbers.region_code_for_number(number) in {"CN", "HK", "MO"}
    assert found.kind in {MOBILE, LANDLINE}
    assert found.e164.isascii()
    # The household check compares the last 4 digits: those of the number as written.
    written_digits = "".join(ch for ch in raw if ch.isdigit())
    assert found.e164.endswith(written_digits[-4:])
    # Parsing is stable: the display form and the E.164 form read back the same.
    assert parse_phone(found.e164) == found
    assert parse_phone(phone_display(found.e164)) == found
    masked = mask_phone(found.e164)
    assert masked.endswith(found.e164[-4:])
    # Only the area code (or the country) and the last 4 digits show; a 7-digit local number hides 3.
    assert masked.count("*") >= 3 if found.e164.startswith("+86") else masked.count("*") == 4


@settings(max_examples=200)
@given(st.from_regex(r"\A[2-8][0-9]{7}\Z"))
def test_a_local_shanghai_number_reads_the_same_with_its_area_code(local: str) -> None:
    try:
        bare = parse_phone(local, area="021")
    except PhoneError:
        with pytest.raises(PhoneError):
            parse_phone("021-" + local)
        return
    assert bare == parse_phone("021-" + local) == parse_phone("(021)" + local)
    assert bare.kind == LANDLINE
