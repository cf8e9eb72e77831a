"""Subcommands of `fangzhou notices`."""

from __future__ import annotations

import argparse
from typing import Any


def cmd_dispatch(args: argparse.Namespace) -> int:
    from fangzhou.lib.cli import emit
    from fangzhou.notices.services import notices_dispatch

    report = notices_dispatch()
    emit(
        args,
        {"sent": report.sent, "retried": report.retried, "failed": report.failed, "quiet": report.quiet},
        f"{report.sent} sent, {report.retried} to retry, {report.failed} failed, {report.quiet} held by quiet hours",
    )
    return 0


def register(sub: Any, add: Any) -> None:
    notices = sub.add_parser("notices", help="notices to residents").add_subparsers(dest="action", required=True)
    add("dispatch", cmd_dispatch, "send the SMS and Web Push notices that are due (run every minute)", notices)
