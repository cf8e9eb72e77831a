"""Subcommands contributed by the apps: each app may have a ``cli.py`` with ``register(sub, add)``."""

from __future__ import annotations

import importlib
from typing import Any

APPS_WITH_COMMANDS: tuple[str, ...] = (
    "fangzhou.accounts.cli",
    "fangzhou.testing.cli",
    "fangzhou.cases.cli",
    "fangzhou.zones.cli",
    "fangzhou.volunteers.cli",
    "fangzhou.workorders.cli",
    "fangzhou.supplies.cli",
    "fangzhou.care.cli",
    "fangzhou.reports.cli",
    "fangzhou.notices.cli",
    "fangzhou.ops.cli",
)


def register_all(sub: Any, add: Any) -> None:
    for module_name in APPS_WITH_COMMANDS:
        module = importlib.import_module(module_name)
        module.register(sub, add)
