"""Primitives every app's subcommands share: exit codes, the refusal, and one way to print."""

from __future__ import annotations

import argparse
import json
from typing import Any

EXIT_OK = 0
EXIT_REFUSED = 2


class CommandError(Exception):
    """The input was refused; the message (Chinese / English) goes to stderr and the exit code is 2."""


def emit(args: argparse.Namespace, payload: dict[str, Any], text: str) -> None:
    """Print one JSON object with ``--json``, else the human text."""
    if getattr(args, "json", False):
        print(json.dumps(payload, ensure_ascii=False, default=str))
    else:
        print(text)
