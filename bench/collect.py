"""Assemble docs/benchmarks.md from the per-benchmark reports in docs/bench/.

    python bench/collect.py

Each benchmark script writes its own report (docs/bench/<name>.md); this puts them in one page
after a short summary, so that docs/benchmarks.md always shows the numbers last measured.
"""

from __future__ import annotations

import re
from pathlib import Path

DOCS = Path(__file__).resolve().parents[1] / "docs"
TITLES = {"roster_sqlite": "Roster import (SQLite)", "roster_postgres": "Roster import (PostgreSQL)"}
ORDER = ["run_all", "zones_scale", "hot_paths", "roster_sqlite", "roster_postgres", "pooling", "routing", "routes_demo"]

INTRO = """# Benchmarks

Performance is measured here, never asserted as timings in tests. Every number is reported as a
ratio against a baseline measured in the same run on the same machine (2 cores, shared with
other work while these ran, so absolute seconds are noisy; the ratios are the result).
Re-run a benchmark with its script under `bench/`, then `python bench/collect.py`.

| benchmark | script | baseline | headline |
|---|---|---|---|
| roster import | `bench/roster_import.py` | row-by-row ORM import of the same roster | set-based import ~30× faster; a no-op re-import ~60× faster (SQLite and PostgreSQL) |
| pool planner | `bench/pooling.py` | random 10-in-1 pooling | at p = 1 %, SAR 0.3: 19 % fewer tests (uniform risk), 40 % fewer (risk concentrated in buildings); at p = 0.1 %: 36–47 % fewer; at SAR 0 never more (a tie where 10 is already optimal) |
| volunteer routes | `bench/cvrp.py` | best-known solutions of the CVRPLIB X instances | PyVRP at 10 s: mean gap 0.74 % on the 43 instances up to 300 customers (target ≤ 1 %); Clarke–Wright 6.4 % |
| routes on the demo community | `bench/routes_demo.py` | PyVRP at 10 s | on the demo's roads, Clarke–Wright is 1–8 % longer and the building-number order 5–38 % longer, for 50, 300 and 1,000 doors |
| zone classification | `bench/zones_scale.py` | one GROUP BY of the last case per compound over the same cases | `zone_report` linear: one grouped read of last case dates per building; see the table below for 1,000 and 25,000 compounds |
| all of them | `bench/run_all.py --quick` | each benchmark's own | one table of ratios at small sizes in a few minutes; full sizes with `bench/run_all.py` |
| demo seed | `fangzhou demo --size …` | — | registry of the default community (6,573 residents) in ~2 s, plus ~25 s for its day of operations; large subdistrict (161,647 residents, 30 communities) in ~60 s |

"""


def main() -> None:
    parts = [INTRO]
    for name in ORDER:
        path = DOCS / "bench" / f"{name}.md"
        if path.exists():
            body = path.read_text(encoding="utf-8").strip()
            if not body.startswith("#"):
                body = f"# {TITLES.get(name, name)}\n\n{body}"
            # Demote every heading one level so that each report is a section of this page.
            lines = ["#" + line if line.startswith("#") else line for line in body.splitlines()]
            lines = [re.sub(r"\]\((\w+\.md)\)", r"](bench/\1)", line) for line in lines]
            parts.append("\n".join(lines) + "\n")
    (DOCS / "benchmarks.md").write_text("\n".join(parts), encoding="utf-8")


if __name__ == "__main__":
    main()
