"""Subcommands of `fangzhou care`."""

from __future__ import annotations

import argparse
from typing import Any


def cmd_sync(args: argparse.Namespace) -> int:
    from fangzhou.care.services import care_registry_sync
    from fangzhou.lib.cli import emit
    from fangzhou.registry.cli import community_from_code

    report = care_registry_sync(community=community_from_code(args.community), actor=None)
    emit(
        args, vars(report), f"Registry: {report.created} added, {report.updated} updated, {report.unchanged} unchanged"
    )
    return 0


def cmd_escorts(args: argparse.Namespace) -> int:
    from fangzhou.care.services import care_escorts_ensure
    from fangzhou.lib.cli import emit
    from fangzhou.registry.cli import community_from_code

    community = community_from_code(args.community) if args.community else None
    report = care_escorts_ensure(community=community)
    emit(
        args,
        {"sessions": report.sessions, "created": report.created, "sealed": report.sealed},
        f"{report.sessions} session(s) in the lead time; {report.created} escort order(s) created "
        f"({report.sealed} for sealed buildings)",
    )
    return 0


def cmd_checkins_close(args: argparse.Namespace) -> int:
    from fangzhou.care.services import care_checkins_close
    from fangzhou.lib.cli import emit
    from fangzhou.registry.cli import community_from_code

    report = care_checkins_close(community=community_from_code(args.community), actor=None)
    emit(args, vars(report), f"{report.due} due, {report.missed} missed; {report.created} urgent order(s) created")
    return 0


def cmd_medicine_batch(args: argparse.Namespace) -> int:
    from fangzhou.care.services import medicine_trips_batch
    from fangzhou.lib.cli import emit
    from fangzhou.registry.cli import community_from_code

    report = medicine_trips_batch(community=community_from_code(args.community), actor=None)
    emit(
        args,
        {"trips": [t.pk for t in report.trips], "requests": report.requests},
        f"{len(report.trips)} trip(s) for {report.requests} request(s)",
    )
    return 0


def register(sub: Any, add: Any) -> None:
    care = sub.add_parser("care", help="special care and medicine").add_subparsers(dest="action", required=True)
    p = add("sync", cmd_sync, "build the special-care registry from the roster flags", care)
    p.add_argument("--community", required=True)
    p = add(
        "escorts", cmd_escorts, "create escort orders for treatment sessions in the lead time (cron, idempotent)", care
    )
    p.add_argument("--community", default="")
    p = add("checkins-close", cmd_checkins_close, "end of day: missed check-ins become urgent orders", care)
    p.add_argument("--community", required=True)
    p = add("medicine-batch", cmd_medicine_batch, "batch waiting medicine requests into trips", care)
    p.add_argument("--community", required=True)
