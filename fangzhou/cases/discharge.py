"""The discharge rule (出舱) as pure Python: no Django.

A case may be discharged after two consecutive qualifying PCR results at least ``gap_hours``
apart. A result *qualifies* when its Ct value, if the lab gives one, is at least ``min_ct``; a
result without a Ct value qualifies when it is negative. "Consecutive" means no
non-qualifying result lies between the two: any positive (or a Ct below ``min_ct``) restarts
the count. Within a run of qualifying results the first one and any later one at least
``gap_hours`` after it make the pair.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class PcrFact:
    sampled_at: datetime
    negative: bool
    ct: float | None = None


@dataclass(frozen=True)
class DischargeCheck:
    ok: bool
    #: the pair of qualifying results that allows discharge (first, second)
    pair: tuple[PcrFact, PcrFact] | None
    reason_zh: str
    reason_en: str


def qualifies(fact: PcrFact, min_ct: float) -> bool:
    if fact.ct is not None:
        return fact.ct >= min_ct
    return fact.negative


def discharge_check(results: Iterable[PcrFact], *, gap_hours: int = 24, min_ct: float = 35.0) -> DischargeCheck:
    gap = timedelta(hours=gap_hours)
    run_start: PcrFact | None = None
    for fact in sorted(results, key=lambda f: f.sampled_at):
        if not qualifies(fact, min_ct):
            run_start = None
            continue
        if run_start is None:
            run_start = fact
        elif fact.sampled_at - run_start.sampled_at >= gap:
            return DischargeCheck(True, (run_start, fact), "可以出舱", "may be discharged")
    if run_start is None:
        return DischargeCheck(
            False,
            None,
            f"需要连续两次阴性核酸（Ct≥{min_ct:g}，间隔至少{gap_hours}小时）",
            f"needs two consecutive negative PCR results (Ct ≥ {min_ct:g}) at least {gap_hours} h apart",
        )
    return DischargeCheck(
        False,
        None,
        f"只有一次合格的阴性结果，第二次需在 {run_start.sampled_at + gap:%Y-%m-%d %H:%M} 之后采样",
        f"only one qualifying negative; the second must be sampled after {run_start.sampled_at + gap:%Y-%m-%d %H:%M}",
    )
