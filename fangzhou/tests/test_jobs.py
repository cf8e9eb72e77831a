"""Background work: in-process after commit by default, on a Celery worker with Redis at scale."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from django.db import transaction

from fangzhou.lib.jobs import UnknownJob, celery_app, job_enqueue, jobs_registered, run_job
from fangzhou.tests import jobs_sample  # registers write_marker
from fangzhou.tests.redis_fixtures import redis_up

assert jobs_sample.write_marker


@pytest.mark.django_db(transaction=True)
def test_inline_job_runs_only_after_commit(tmp_path: Path) -> None:
    marker = tmp_path / "done.txt"
    with transaction.atomic():
        job_enqueue("fangzhou.tests.jobs_sample.write_marker", path=str(marker), text="ok")
        assert not marker.exists()
    assert marker.read_text() == "ok"


@pytest.mark.django_db(transaction=True)
def test_rolled_back_transaction_runs_no_job(tmp_path: Path) -> None:
    marker = tmp_path / "never.txt"
    with pytest.raises(RuntimeError), transaction.atomic():
        job_enqueue("fangzhou.tests.jobs_sample.write_marker", path=str(marker), text="x")
        raise RuntimeError("roll back")
    assert not marker.exists()


def test_jobs_refuse_objects() -> None:
    with pytest.raises(TypeError):
        job_enqueue("fangzhou.tests.jobs_sample.write_marker", path=object(), text="x")


def test_the_apps_jobs_are_registered() -> None:
    names = jobs_registered()
    assert "fangzhou.supplies.tasks.route_plan_run" in names
    assert "fangzhou.care.tasks.escorts_ensure" in names


@pytest.mark.django_db(transaction=True)
def test_a_message_naming_os_system_is_refused_and_logged(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """The broker does not choose code: a forged message runs nothing."""
    from fangzhou.celery import run_job_task

    marker = tmp_path / "pwned"
    with caplog.at_level(logging.ERROR, logger="fangzhou.lib.jobs"), pytest.raises(UnknownJob):
        run_job_task("os.system", {"command": f"touch {marker}"})  # the worker's entry point
    assert not marker.exists()
    assert "refused a job that is not registered: 'os.system'" in caplog.text
    with pytest.raises(UnknownJob):
        run_job("fangzhou.supplies.services.route_plan_run", {"plan_id": 1})  # a service, not a job
    with pytest.raises(UnknownJob):
        job_enqueue("os.system", command="true")  # refused at the sender too
    assert not marker.exists()


@pytest.mark.skipif(not redis_up() and not os.environ.get("CI"), reason="Redis is not running here")
@pytest.mark.django_db(transaction=True)
def test_celery_worker_runs_the_job(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, settings: Any) -> None:
    queue = f"fz-test-{os.getpid()}"
    broker = "redis://127.0.0.1:6379/15"
    env = {**os.environ, "CELERY_BROKER_URL": broker, "DJANGO_SETTINGS_MODULE": "fangzhou.settings"}
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "fangzhou.celery",
            "worker",
            "--pool=solo",
            "-I",
            "fangzhou.tests.jobs_sample",
            "-Q",
            queue,
            "--loglevel=WARNING",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    celery_app.cache_clear()  # the sending app is made for this broker (another test may have made one)
    try:
        settings.FANGZHOU_JOBS = "celery"
        settings.CELERY_BROKER_URL = broker
        from fangzhou.celery import app

        monkeypatch.setattr(app.conf, "broker_url", broker)
        settings.FANGZHOU_CELERY_QUEUE = queue
        marker = tmp_path / "celery.txt"
        with transaction.atomic():
            job_enqueue("fangzhou.tests.jobs_sample.write_marker", path=str(marker), text="from a worker")
        deadline = time.monotonic() + 150  # a worker starting on a loaded 2-core machine
        while not marker.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert marker.read_text() == "from a worker"
    finally:
        celery_app.cache_clear()
        worker.terminate()
        worker.wait(timeout=20)
