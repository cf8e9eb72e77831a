"""Background work: in-process after commit by default, on a Celery worker with Redis at scale."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from django.db import transaction

from fangzhou.lib.jobs import job_enqueue


def _redis_up() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=1):
            return True
    except OSError:
        return False


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


@pytest.mark.skipif(not _redis_up() and not os.environ.get("CI"), reason="Redis is not running here")
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
            "-Q",
            queue,
            "--loglevel=WARNING",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        settings.FANGZHOU_JOBS = "celery"
        settings.CELERY_BROKER_URL = broker
        from fangzhou.celery import app

        monkeypatch.setattr(app.conf, "broker_url", broker)
        settings.FANGZHOU_CELERY_QUEUE = queue
        marker = tmp_path / "celery.txt"
        with transaction.atomic():
            job_enqueue("fangzhou.tests.jobs_sample.write_marker", path=str(marker), text="from a worker")
        deadline = time.monotonic() + 60
        while not marker.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert marker.read_text() == "from a worker"
    finally:
        worker.terminate()
        worker.wait(timeout=20)
