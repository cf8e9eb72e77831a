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
