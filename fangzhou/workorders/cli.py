"""Subcommands of `fangzhou orders`."""

from __future__ import annotations

import argparse
from typing import Any


def cmd_escalate(args: argparse.Namespace) -> int:
    from fangzhou.lib.cli import emit
    from fangzhou.registry.cli import community_from_code
    from fangzhou.workorders.services import work_orders_escalate

    community = community_from_code(args.community) if args.community else None
    counts = work_orders_escalate(community=community)
    emit(
        args,
        counts,
        f"Escalated {counts['lead']} overdue order(s) to group leads, {counts['committee']} to the committee.",
    )
    return 0


def register(sub: Any, add: Any) -> None:
    orders = sub.add_parser("orders", help="the work-order queue").add_subparsers(dest="action", required=True)
    p = add("escalate", cmd_escalate, "escalate overdue orders (run every few minutes from cron)", orders)
    p.add_argument("--community", default="", help="only this community (code)")
