"""One line per measured ratio, shared by every benchmark and collected by ``bench/run_all.py``.

A benchmark calls :func:`record` for each headline ratio (measured against a baseline measured in
the same run). When ``FANGZHOU_BENCH_RATIOS`` names a file, each ratio is appended to it as one
JSON line; otherwise :func:`record` does nothing beyond returning the ratio.
"""

from __future__ import annotations

import json
import os


def record(name: str, measured: float, baseline: float, unit: str = "s", *, lower_is_better: bool = True) -> float:
    ratio = measured / baseline if baseline else float("inf")
    path = os.environ.get("FANGZHOU_BENCH_RATIOS")
    if path:
        row = {
            "name": name,
            "measured": measured,
            "baseline": baseline,
            "ratio": ratio,
            "unit": unit,
            "lower_is_better": lower_is_better,
        }
        with open(path, "a", encoding="utf-8") as out:
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
    return ratio
