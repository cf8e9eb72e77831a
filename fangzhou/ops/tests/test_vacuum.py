"""With autovacuum off, the schedule vacuums the tables written all day (PostgreSQL).

Every household that reports again the same day updates its members' antigen reports; each update
leaves a dead row version that every later upsert of the row walks until a VACUUM removes it. The
test server runs without autovacuum, as a server may.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from fangzhou.lib.db import TableActivity, vacuum_wanted
from fangzhou.ops.schedule import SCHEDULE
from fangzhou.registry.tests.factories import build_world
from fangzhou.testing.models import AntigenReport
from fangzhou.testing.services import antigen_report_submit


def test_a_table_is_due_past_autovacuums_own_thresholds() -> None:
    activity = {
        "quiet": TableActivity(live=1000, dead=250, inserted=0),  # 50 + 20 % of 1,000 = 250: not past it
        "churned": TableActivity(live=1000, dead=251, inserted=0),
        "filling": TableActivity(live=10_000, dead=0, inserted=3001),  # 1,000 + 20 % of 10,000 = 3,000
        "small": TableActivity(live=0, dead=50, inserted=1000),
    }
    assert vacuum_wanted(activity) == ["churned", "filling"]


def test_the_schedule_runs_it_every_ten_minutes() -> None:
    entry = next(p for p in SCHEDULE if p.name == "vacuum")
    assert entry.job == "fangzhou.ops.tasks.hot_tables_vacuum"
    assert entry.every == dt.timedelta(minutes=10)


@pytest.mark.django_db
def test_sqlite_has_nothing_to_vacuum() -> None:
    if connection.vendor == "postgresql":
        pytest.skip("SQLite only")
    from fangzhou.ops.tasks import hot_tables_vacuum

    assert hot_tables_vacuum() == {"skipped": "not PostgreSQL"}


def _stats(table: str) -> tuple[int, Any]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_force_next_flush()")  # this backend's counts, visible now
        cursor.execute("SELECT n_dead_tup, last_vacuum FROM pg_stat_user_tables WHERE relname = %s", [table])
        dead, last = cursor.fetchone()
    return int(dead), last


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite keeps no dead row versions to vacuum")
def test_repeated_reports_leave_dead_versions_and_the_job_removes_them() -> None:
    from fangzhou.ops.tasks import hot_tables_vacuum

    table = AntigenReport._meta.db_table
    with connection.cursor() as cursor:
        # Where the test server runs autovacuum, the table alone is left to us, as on a server without it.
        cursor.execute(f"ALTER TABLE {table} SET (autovacuum_enabled = false)")
    try:
        household = build_world().resident("张伟").household
        members = list(household.residents.values_list("pk", flat=True))
        today = timezone.localdate()
        for n in range(40):  # a household sending again and again the same day: the same rows updated
            antigen_report_submit(
                household=household, day=today, results=dict.fromkeys(members, "negative"), client_id=f"again-{n:04d}"
            )
        dead, _ = _stats(table)
        assert AntigenReport.objects.filter(household=household, day=today).count() == len(members)
        assert dead >= 39 * len(members) > 50

        done = hot_tables_vacuum()

        assert table in done["vacuumed"]
        dead, last = _stats(table)
        assert dead == 0 and last is not None
        assert hot_tables_vacuum() == {"vacuumed": []}  # nothing left to do
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"ALTER TABLE {table} RESET (autovacuum_enabled)")
