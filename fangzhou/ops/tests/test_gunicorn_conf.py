"""The production server's worker start-up: the loaded application is frozen out of the collector."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def test_a_worker_freezes_what_start_up_made() -> None:
    script = (
        "import django, gc; django.setup()\n"
        "from fangzhou.ops import gunicorn_conf\n"
        "assert gc.get_freeze_count() == 0\n"
        "gunicorn_conf.post_worker_init(None)\n"
        "print(gc.get_freeze_count())\n"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "fangzhou.settings", "PYTHONPATH": str(ROOT)}
    env.pop("FANGZHOU_SCHEDULER", None)  # no scheduler thread in this test
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True)
    assert int(out.stdout.strip()) > 10_000  # Django and every app's modules, not a handful
