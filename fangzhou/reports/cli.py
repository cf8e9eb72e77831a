"""Subcommands of `fangzhou reports`."""

from __future__ import annotations

from typing import Any


def register(sub: Any, add: Any) -> None:
    """Add this app's subcommands (none yet)."""
