"""Issue 13, the soak, bounded: 150 taps kept on two phones (headless Chromium running the real
outbox.js) sent to gunicorn through a proxy that drops connections before and after the server
acted and answers 503 at random. Every tap is stored exactly once, the contested orders and doors
are won by one phone and told to the other, nothing is lost (bench/outbox_soak.py, which also
runs the 500-tap version and measures it).

Runs in both passes of scripts/test.sh (marked ``soak``: it needs Chromium, not the browser
fixtures). On PostgreSQL gunicorn works on the suite's test database; on SQLite, whose test
database lives in this process's memory, the database is copied to a file for gunicorn and
copied back for the assertions (sqlite3's backup API).
"""

from __future__ import annotations

import importlib.util
import os
import random
import sqlite3
import sys
from pathlib import Path
from types import ModuleType

import pytest
from django.conf import settings
from django.db import connection

# Playwright's sync API runs an event loop in the test thread; the ORM calls here are plain ones.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

ROOT = Path(__file__).resolve().parents[1]
pytestmark = [pytest.mark.soak, pytest.mark.django_db(transaction=True)]


def harness() -> ModuleType:
    spec = importlib.util.spec_from_file_location("outbox_soak", ROOT / "bench" / "outbox_soak.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["outbox_soak"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_150_taps_through_drops_and_503s_reach_the_server_exactly_once(tmp_path: Path) -> None:
    soak = harness()
    rng = random.Random(2026)
    plan = soak.seed(150, rng)
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        copy = tmp_path / "soak.sqlite3"
        connection.ensure_connection()
        with sqlite3.connect(copy) as target:
            connection.connection.backup(target)
        url = f"sqlite:///{copy}"
    else:
        url = f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    env = soak.server_env(url, tmp_path / "data", settings.SECRET_KEY)
    with soak.gunicorn(env, tmp_path / "gunicorn.log") as port:
        run, seen = soak.soak(plan, port, rng=rng, faults=soak.Faults(), deadline_s=150)
    if connection.vendor == "sqlite":
        with sqlite3.connect(copy) as source:
            source.backup(connection.connection)
    numbers = soak.verify(plan, run, seen)  # every tap once, conflicts told, nothing lost (raises)
    # The failures were injected, all three kinds, and the phones got through them.
    assert numbers["dropped_before"] and numbers["dropped_after"] and numbers["answered_503"], numbers
    assert numbers["replays_after_lost_answer"] >= 1 and numbers["retries"] >= 10
    assert sum(numbers["conflicts"].values()) == 3 * 3  # per block of 50: one order and two doors
