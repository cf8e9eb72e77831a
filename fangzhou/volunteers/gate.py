"""The health gate, as a pure rule (no Django): may this volunteer go on a shift or to a door?

A volunteer is kept off shifts and door-to-door work when
- they have no negative test in the last ``max_age`` (48 hours by default), or
- their latest test is positive (a positive after the last negative), or
- they live in a building that is sealed on that day.
Each reason is given in Chinese and English so that the page can say why.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Reason:
    code: str
    zh: str
    en: str

    def __str__(self) -> str:
        return f"{self.zh} / {self.en}"


@dataclass(frozen=True)
class GateInput:
    now: dt.datetime
    last_negative_at: dt.datetime | None
    last_positive_at: dt.datetime | None
    building_sealed: bool
    building_label: str = ""


@dataclass(frozen=True)
class GateResult:
    ok: bool
    reasons: list[Reason] = field(default_factory=list)
    last_negative_at: dt.datetime | None = None

    @property
    def text(self) -> str:
        return "; ".join(str(r) for r in self.reasons)


def health_gate(data: GateInput, *, max_age: dt.timedelta = dt.timedelta(hours=48)) -> GateResult:
    reasons: list[Reason] = []
    hours = int(max_age.total_seconds() // 3600)
    positive_is_latest = data.last_positive_at is not None and (
        data.last_negative_at is None or data.last_positive_at >= data.last_negative_at
    )
    if positive_is_latest:
        reasons.append(Reason("positive", "最近一次检测为阳性", "the latest test is positive"))
    elif data.last_negative_at is None:
        reasons.append(
            Reason("no_test", f"{hours} 小时内没有阴性检测结果", f"no negative test in the last {hours} hours")
        )
    elif data.now - data.last_negative_at > max_age:
        reasons.append(
            Reason(
                "stale_test",
                f"最近的阴性结果已超过 {hours} 小时（{data.last_negative_at:%m-%d %H:%M}）",
                f"the last negative test is older than {hours} hours ({data.last_negative_at:%m-%d %H:%M})",
            )
        )
    if data.building_sealed:
        label = data.building_label
        reasons.append(
            Reason("sealed", f"居住的{label}处于封控状态", f"lives in a sealed building{' ' + label if label else ''}")
        )
    return GateResult(ok=not reasons, reasons=reasons, last_negative_at=data.last_negative_at)


@dataclass(frozen=True)
class Need:
    """Something a volunteer still needs before they may claim door-to-door work or go on duty."""

    code: str
    zh: str
    en: str


def still_needed(result: GateResult, *, hours: int, in_a_group: bool) -> list[Need]:
    """What the volunteer still needs, in the order to do it: the gate's reasons turned into steps."""
    needs: list[Need] = []
    codes = {r.code for r in result.reasons}
    if "positive" in codes:
        needs.append(
            Need(
                "negative_after_positive",
                "阳性之后的一次阴性检测结果（请同时告知居委会）",
                "a negative test after the positive one (and tell the committee)",
            )
        )
    elif codes & {"no_test", "stale_test"}:
        needs.append(
            Need(
                "negative_test",
                f"一次 {hours} 小时内的阴性检测结果（抗原或核酸），在本页登记",
                f"a negative test (antigen or PCR) from the last {hours} hours, recorded on this page",
            )
        )
    if "sealed" in codes:
        needs.append(
            Need(
                "unsealed",
                "所住楼栋解封（封控期间不能上岗）",
                "your building to be unsealed (no duty while it is sealed)",
            )
        )
    if not in_a_group:
        needs.append(Need("group", "居委会把您编入一个工作组", "the committee to put you in a work group"))
    return needs
