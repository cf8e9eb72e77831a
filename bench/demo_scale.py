"""The large demo: seed time per resident against the default's, and the day of operations with
and without a whole subdistrict around it, same run.

    python bench/demo_scale.py [--database-url postgres://…] [--quick] [--out FILE]

Two phases on the same database, flushed before each:

- A: ``demo_seed(size="default")`` (one community, ~6,500 residents), then ``demo_operations`` on
  it: the day of operations in a database holding nothing else.
- B: ``demo_seed(size="large")`` (30 communities, ~160,000 residents; the first is the default
  one), then ``demo_operations`` on that first community.

Reported: the registry seed's time per resident in B against A (linear: ≤ 1.1), and the day of
operations' time in B against A (no step scans other communities: about 1). On PostgreSQL also
the rows the day of operations read (``pg_stat_user_tables``: sequential plus index fetches), B
against A, which does not depend on how busy the machine is. ``--quick``: the small demo
community (~600 residents) instead of the default one, and the default community instead of the
subdistrict around it (B seeds the default demo, timed, then the small one beside it, and runs the
day of operations on the small one).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))


@dataclass
class Phase:
    label: str
    residents: int  # in the seed that is timed
    seed_s: float
    ops_s: float
    ops_rows: int  # rows read by the day of operations (PostgreSQL), -1 elsewhere
    database_residents: int


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url", default="")
    parser.add_argument("--quick", action="store_true", help="small vs default instead of default vs large")
    parser.add_argument("--out", default="")
    args = parser.parse_args()
    os.environ["FANGZHOU_DATA_DIR"] = tempfile.mkdtemp(prefix="fz-bench-")
    os.environ.setdefault("FANGZHOU_REQUEST_LOG", "0")
    if args.database_url:
        os.environ["DATABASE_URL"] = args.database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fangzhou.settings")
    import django

    django.setup()
    from django.test.utils import override_settings

    # The demo accounts' and volunteers' passwords are hashed with argon2 (about 0.6 s of CPU each, some
    # 40 per demo: a fixed cost that is not what this bench measures). The bench signs in with
    # force_login, so its own database may hold cheap hashes.
    override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]).enable()
    from django.core.management import call_command
    from django.db import connection
    from ratios import record

    from fangzhou.demo import demo_operations
    from fangzhou.registry.demo import demo_seed
    from fangzhou.registry.models import Community, Resident

    call_command("migrate", verbosity=0)

    def rows_read() -> int:
        if connection.vendor != "postgresql":
            return -1
        connection.close()  # a backend reports its table counters when it ends
        time.sleep(1.0)
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_stat_clear_snapshot()")
            cursor.execute(
                "SELECT coalesce(sum(seq_tup_read + coalesce(idx_tup_fetch, 0)), 0) FROM pg_stat_user_tables"
            )
            return int(cursor.fetchone()[0])

    def phase(label: str, size: str, beside: str | None = None) -> Phase:
        """Flush, seed ``size`` (timed), then the ``beside`` demo (not timed); operations on the last."""
        call_command("flush", interactive=False, verbosity=0)
        t = time.perf_counter()
        seeded = demo_seed(size=size)
        seed_s = time.perf_counter() - t
        code = demo_seed(size=beside).communities[0] if beside else seeded.communities[0]
        before = rows_read()
        t = time.perf_counter()
        demo_operations(community=Community.objects.get(code=code))
        ops_s = time.perf_counter() - t
        after = rows_read()
        result = Phase(
            label=label,
            residents=seeded.residents,
            seed_s=seed_s,
            ops_s=ops_s,
            ops_rows=after - before if before >= 0 else -1,
            database_residents=Resident.objects.count(),
        )
        print(result, file=sys.stderr, flush=True)
        return result

    if args.quick:
        a = phase("small demo alone", "small")
        b = phase("default demo seeded, then the small one beside it", "default", beside="small")
        small_name, big_name = "small", "default"
    else:
        a = phase("default demo alone", "default")
        b = phase("large demo (subdistrict)", "large")
        small_name, big_name = "default", "large"
    per_a, per_b = a.seed_s / a.residents, b.seed_s / b.residents
    seed_ratio = record(f"demo_scale: seed per resident, {big_name} / {small_name}", per_b, per_a, "s/resident")
    ops_ratio = record(
        f"demo_scale: day of operations, {b.database_residents:,} residents in the database / {a.database_residents:,}",
        b.ops_s,
        a.ops_s,
    )
    lines = [
        f"The large demo, {connection.vendor}" + (" (quick: small vs default)" if args.quick else "") + ":",
        "",
        "| | residents seeded | seed s | seed ms per resident | residents in the database | day of operations s "
        "| rows it read |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for p in (a, b):
        rows = f"{p.ops_rows:,}" if p.ops_rows >= 0 else "—"
        lines.append(
            f"| {p.label} | {p.residents:,} | {p.seed_s:.1f} | {1000 * p.seed_s / p.residents:.3f} | "
            f"{p.database_residents:,} | {p.ops_s:.1f} | {rows} |"
        )
    lines += ["", f"Seed time per resident, {big_name} / {small_name}: **{seed_ratio:.2f}** (goal ≤ 1.1)."]
    lines.append(f"Day of operations, in the bigger database / alone: **{ops_ratio:.2f}** (goal: about 1).")
    if a.ops_rows > 0 and b.ops_rows >= 0:
        rows_ratio = record(
            "demo_scale: rows read by the day of operations, bigger database / alone", b.ops_rows, a.ops_rows, "rows"
        )
        lines.append(f"Rows the day of operations read, in the bigger database / alone: **{rows_ratio:.2f}**.")
    text = "\n".join(lines)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
