"""One schedule for every community, claimed per slot in the database."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import tarfile
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from fangzhou.cli import main
from fangzhou.lib.jobs import jobs_registered
from fangzhou.ops.models import JobRun
from fangzhou.ops.schedule import SCHEDULE
from fangzhou.ops.scheduler import beat_schedule, current_slot, entry_named, run_due, run_entry
from fangzhou.registry.tests.factories import World
from fangzhou.workorders.models import WorkOrder


def test_every_entry_names_a_registered_job_and_has_a_beat_entry() -> None:
    registered = set(jobs_registered())
    assert {p.job for p in SCHEDULE} <= registered
    beat = beat_schedule()
    assert set(beat) == {p.name for p in SCHEDULE}
    assert all(e["task"] == "fangzhou.run_scheduled" and e["args"] == [name] for name, e in beat.items())
    assert {"escalate", "escorts", "checkins-close", "delivery-sweep", "retention", "backup"} <= set(beat)


def test_slots_are_the_interval_or_the_day_after_its_time() -> None:
    escalate = entry_named("escalate")  # every 5 minutes
    at = dt.datetime(2026, 4, 2, 14, 7, 30, tzinfo=dt.UTC)
    assert current_slot(escalate, at) == "2026-04-02T14:05:00"
    assert current_slot(escalate, at + dt.timedelta(minutes=2)) == "2026-04-02T14:05:00"
    assert current_slot(escalate, at + dt.timedelta(minutes=3)) == "2026-04-02T14:10:00"
    sweep = entry_named("delivery-sweep")  # 22:30 on the server's clock (Asia/Shanghai)
    assert current_slot(sweep, dt.datetime(2026, 4, 2, 14, 0, tzinfo=dt.UTC)) is None  # 22:00 there
    assert current_slot(sweep, dt.datetime(2026, 4, 2, 14, 31, tzinfo=dt.UTC)) == "2026-04-02"


@pytest.mark.django_db(transaction=True)
def test_two_schedulers_firing_the_same_slot_run_each_job_once(world: World) -> None:
    now = timezone.make_aware(dt.datetime.combine(timezone.localdate(), dt.time(1, 0)))  # no daily job yet
    first = run_due(now=now)
    second = run_due(now=now)
    assert {f.name for f in first if f.ran} == {
        "escalate",
        "escorts",
        "federation",
        "notices",
        "notices-clock",
        "vacuum",
    }
    assert not any(f.ran for f in second)
    assert JobRun.objects.filter(job="escalate").count() == 1
    assert set(JobRun.objects.values_list("outcome", flat=True)) == {JobRun.Outcome.OK}


@pytest.mark.django_db(transaction=True)
def test_threads_racing_for_one_slot_claim_it_once(world: World) -> None:
    from django.db import connection as main

    if main.vendor != "postgresql":
        pytest.skip("the suite's SQLite is one in-memory database: threads cannot race on it")
    now = timezone.now()
    entry = entry_named("escalate")
    results: list[bool] = []

    def fire() -> None:
        from django.db import connection

        try:
            results.append(run_entry(entry, now=now).ran)
        finally:
            connection.close()

    threads = [threading.Thread(target=fire) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [False, False, False, True]


@pytest.mark.django_db(transaction=True)
def test_a_failing_job_is_recorded_and_the_next_slot_runs_again(world: World) -> None:
    from fangzhou.ops import schedule as module

    broken = module.Periodic("broken", "fangzhou.lib.jobs.no_such_job", every=dt.timedelta(minutes=1))
    now = timezone.now()
    fired = run_entry(broken, now=now)
    assert fired.ran and fired.outcome == JobRun.Outcome.FAILED
    run = JobRun.objects.get(job="broken")
    assert run.detail == {"error": "UnknownJob"} and run.finished_at is not None
    assert run_entry(broken, now=now + dt.timedelta(minutes=1)).ran


@pytest.mark.django_db(transaction=True)
def test_schedule_json_prints_each_job_and_its_last_run(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schedule", "--json"]) == 0
    before = {j["name"]: j for j in json.loads(capsys.readouterr().out)["jobs"]}
    assert before["escalate"]["last_run"] is None and before["escalate"]["every_s"] == 300
    assert before["delivery-sweep"]["at"] == "22:30"
    run_entry(entry_named("escalate"))
    assert main(["schedule", "--json"]) == 0
    last = {j["name"]: j for j in json.loads(capsys.readouterr().out)["jobs"]}["escalate"]["last_run"]
    assert last["outcome"] == "ok" and last["started_at"] and last["finished_at"]
    assert last["detail"] == {"result": {"lead": 0, "committee": 0}}


@pytest.mark.django_db(transaction=True)
def test_end_of_day_jobs_loop_over_every_community(world: World) -> None:
    """The check-in close of every community: 王秀英 lives alone and did not check in."""
    from fangzhou.care.services import care_registry_sync

    care_registry_sync(community=world.community, actor=None)
    late = timezone.make_aware(dt.datetime.combine(timezone.localdate(), dt.time(23, 0)))
    fired = {name: run_entry(entry_named(name), now=late) for name in ("checkins-close", "delivery-sweep")}
    assert fired["checkins-close"].ran and fired["delivery-sweep"].ran
    run = JobRun.objects.get(job="checkins-close")
    assert run.detail["result"]["communities"] == 2
    assert run.detail["result"]["created"] == WorkOrder.objects.filter(community=world.community).count() >= 1


def test_a_bad_interval_override_stops_start_up_with_the_variable_named() -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "import django, os; os.environ['DJANGO_SETTINGS_MODULE']='fangzhou.settings'; django.setup()",
        ],
        env={**os.environ, "FANGZHOU_SCHEDULE_EVERY_S": "escalate=soon"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0 and "FANGZHOU_SCHEDULE_EVERY_S" in done.stderr


@pytest.mark.django_db(transaction=True)
def test_the_nightly_backup_writes_an_archive_and_keeps_two_weeks(world: World, settings: Any, tmp_path: Path) -> None:
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("the suite's SQLite is in memory: test_backup.py backs up a SQLite file")
    settings.DATA_DIR = tmp_path
    (tmp_path / "backups").mkdir()
    stale = tmp_path / "backups" / "fangzhou-20200101T000000Z.tar.gz"
    stale.write_bytes(b"old")
    os.utime(stale, (time.time() - 30 * 86400,) * 2)
    night = timezone.make_aware(dt.datetime.combine(timezone.localdate(), dt.time(3, 20)))
    assert run_entry(entry_named("backup"), now=night).outcome == JobRun.Outcome.OK
    [archive] = (tmp_path / "backups").glob("fangzhou-*.tar.gz")
    assert not stale.exists()
    with tarfile.open(archive) as tar:
        assert "manifest.json" in tar.getnames()
