"""gunicorn settings of ``fangzhou serve``: each worker starts the in-process scheduler thread when the
schedule runs in-process (``FANGZHOU_SCHEDULER=thread``); the runs are claimed in the database, so
several workers (or instances) run each slot once.

Once a worker has loaded the application, what start-up made (Django's modules, models, URL patterns,
settings: a few hundred thousand objects) is moved out of the garbage collector's sight with
``gc.freeze()``. None of it is ever garbage, and a full collection no longer walks it: a page that
makes many objects (the zone report of a large community, the daily report) pays for its own
objects only."""

from __future__ import annotations

import gc
from typing import Any


def post_worker_init(worker: Any) -> None:
    from fangzhou.ops.scheduler import start_scheduler_thread

    start_scheduler_thread()
    gc.collect()
    gc.freeze()
