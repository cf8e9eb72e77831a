"""A job for the jobs tests: writes a marker file (a real side effect a worker must perform)."""

from __future__ import annotations

from pathlib import Path

from fangzhou.lib.jobs import job


@job
def write_marker(path: str, text: str) -> None:
    Path(path).write_text(text, encoding="utf-8")
