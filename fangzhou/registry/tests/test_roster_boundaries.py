"""The roster import at the edges of a phone and a name: what is kept, what is refused and why."""

from __future__ import annotations

import pytest

from fangzhou.registry.models import Resident
from fangzhou.registry.services import community_create, roster_import
from fangzhou.registry.tests.test_services_roster import xlsx

pytestmark = pytest.mark.django_db


def test_phones_and_names_at_their_limits() -> None:
    community = community_create(code="R09", name="边界居民区")
    rows: list[list[object]] = [
        ["楼号", "室号", "姓名", "手机号"],
        ["1", "101", "甲", "1.3812345670E+10"],  # row 2: eleven digits written: kept
        ["1", "102", "乙", "1.381234567E+10"],  # row 3: ten digits written: the eleventh was lost
        ["1", "103", "丙", 1381234567.0],  # row 4: a ten-digit number
        ["1", "104", "丁", "138123456789"],  # row 5: twelve digits
        ["1", "105", "戊", "0086 138 1234 5678"],  # row 6: the country code is dropped
        ["1", "106", "张" * 64, "13812345600"],  # row 7: the longest name
        ["1", "107", "张" * 65, "13812345601"],  # row 8: one character too many
    ]
    report = roster_import(community=community, actor=None, data=xlsx(rows, title=None), filename="r.xlsx")
    by_row = {r.row: r for r in report.rejected}
    assert {(r.row, r.column) for r in report.rejected} == {(3, "phone"), (4, "phone"), (5, "phone"), (8, "name")}
    assert "set the column to text" in by_row[3].reason_en
    assert "11-digit" in by_row[4].reason_en and "11-digit" in by_row[5].reason_en
    assert "too long" in by_row[8].reason_en and "65" in by_row[8].reason_zh
    kept = dict(Resident.objects.values_list("name", "phone"))
    assert kept == {"甲": "+8613812345670", "戊": "+8613812345678", "张" * 64: "+8613812345600"}
