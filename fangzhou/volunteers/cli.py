"""Subcommands of `fangzhou volunteers`."""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path
from typing import Any


def cmd_roster_export(args: argparse.Namespace) -> int:
    from django.utils import timezone

    from fangzhou.lib.cli import CommandError, emit
    from fangzhou.registry.cli import community_from_code
    from fangzhou.volunteers.services import roster_export_xlsx

    community = community_from_code(args.community)
    try:
        day = dt.date.fromisoformat(args.date) if args.date else timezone.localdate()
    except ValueError as exc:
        raise CommandError(f"日期无效 {args.date} / invalid date (YYYY-MM-DD)") from exc
    content = roster_export_xlsx(community=community, day=day, actor=None)
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(content)
    emit(args, {"file": str(out), "bytes": len(content), "date": day.isoformat()}, f"Wrote {out}")
    return 0


def cmd_autofill(args: argparse.Namespace) -> int:
    from django.utils import timezone

    from fangzhou.lib.cli import CommandError, emit
    from fangzhou.registry.cli import community_from_code
    from fangzhou.volunteers.services import shifts_autofill

    community = community_from_code(args.community)
    try:
        day = dt.date.fromisoformat(args.date) if args.date else timezone.localdate()
    except ValueError as exc:
        raise CommandError(f"日期无效 {args.date} / invalid date (YYYY-MM-DD)") from exc
    filled = shifts_autofill(community=community, day=day, actor=None)
    emit(args, {"filled": filled, "date": day.isoformat()}, f"Filled {filled} place(s) on {day}.")
    return 0


def register(sub: Any, add: Any) -> None:
    vols = sub.add_parser("volunteers", help="volunteers and the duty roster").add_subparsers(
        dest="action", required=True
    )
    p = add("roster-export", cmd_roster_export, "export one day's duty roster as .xlsx", vols)
    p.add_argument("--community", required=True)
    p.add_argument("--date", default="")
    p.add_argument("-o", "--output", required=True)
    p = add("autofill", cmd_autofill, "fill the gaps of one day's roster with eligible volunteers", vols)
    p.add_argument("--community", required=True)
    p.add_argument("--date", default="")
