"""Seed the demo with its day of operations once, for the benchmarks of a run that read it.

    python bench/seed_demo.py --database-url postgres://…/fz_bench [--size small]

Flushes the database (migrated first), seeds ``demo_seed(size=…)`` and ``demo_operations`` on its
first community, then ANALYZE (PostgreSQL). ``bench/run_all.py`` runs it before the benchmarks of
``SHARED_DEMO``, which then take the database with ``--seeded`` instead of seeding their own: each
still measures its baseline itself, in the same run. Not a benchmark: it records no ratio.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url", required=True, help="flushed!")
    parser.add_argument("--size", default="small", choices=["small", "default"])
    args = parser.parse_args()
    os.environ["DATABASE_URL"] = args.database_url
    os.environ["FANGZHOU_DATA_DIR"] = tempfile.mkdtemp(prefix="fz-seed-")
    os.environ.setdefault("FANGZHOU_REQUEST_LOG", "0")
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

    from fangzhou.demo import demo_operations
    from fangzhou.registry.demo import demo_seed
    from fangzhou.registry.models import Community

    started = time.perf_counter()
    call_command("migrate", interactive=False, verbosity=0)
    call_command("flush", interactive=False, verbosity=0)
    result = demo_seed(size=args.size)
    demo_operations(community=Community.objects.get(code=result.communities[0]))
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    print(f"seeded the {args.size} demo with its day of operations in {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
