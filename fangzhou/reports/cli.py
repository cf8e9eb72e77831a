"""Subcommands of `fangzhou reports`."""

from __future__ import annotations

import argparse
from typing import Any


def cmd_reports_daily(args: argparse.Namespace) -> int:
    from fangzhou.accounts.models import Role, User
    from fangzhou.lib.cli import CommandError, emit
    from fangzhou.registry.cli import community_from_code
    from fangzhou.reports.exports import report_lines
    from fangzhou.reports.selectors import ReportError, daily_report, report_day

    community = community_from_code(args.community)
    try:
        day = report_day(args.on)
    except ReportError as exc:
        raise CommandError(exc.reason) from exc
    # The operator at the console reads as the administrator would (no account of their own).
    operator = User(username="fangzhou-cli", role=Role.ADMIN, is_active=True)
    report = daily_report(operator, community, day)
    lines = [f"{community.code} {community.name} — 日报 daily report {day.isoformat()}"]
    section = ""
    for name, label, value in report_lines(report):
        if name != section:
            lines.append(name)
            section = name
        lines.append(f"  {label:<40} {value}")
    emit(args, report.as_dict(), "\n".join(lines))
    return 0


def register(sub: Any, add: Any) -> None:
    reports = sub.add_parser("reports", help="daily reports (日报)").add_subparsers(dest="action", required=True)
    p = add("daily", cmd_reports_daily, "a community's daily report (counts only)", reports)
    p.add_argument("--community", required=True)
    p.add_argument("--on", help="YYYY-MM-DD (default: today)")
