"""gunicorn settings of ``fangzhou serve``: each worker starts the in-process scheduler thread when the
schedule runs in-process (``FANGZHOU_SCHEDULER=thread``); the runs are claimed in the database, so
several workers (or instances) run each slot once."""

from __future__ import annotations

from typing import Any


def post_worker_init(worker: Any) -> None:
    from fangzhou.ops.scheduler import start_scheduler_thread

    start_scheduler_thread()
