"""Subcommands of `fangzhou supplies`."""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path
from typing import Any


def _distribution(community: Any, name: str) -> Any:
    from fangzhou.lib.cli import CommandError
    from fangzhou.supplies.models import Distribution

    distribution = Distribution.objects.filter(community=community, name=name).first()
    if distribution is None:
        raise CommandError(f"找不到配送「{name}」 / no distribution named {name!r}")
    return distribution


def cmd_create(args: argparse.Namespace) -> int:
    from django.utils import timezone

    from fangzhou.lib.cli import CommandError, emit
    from fangzhou.registry.cli import community_from_code
    from fangzhou.supplies.services import SuppliesError, distribution_create
    from fangzhou.supplies.views import parse_items

    community = community_from_code(args.community)
    try:
        d = distribution_create(
            community=community,
            name=args.name,
            kind=args.kind,
            on=dt.date.fromisoformat(args.on) if args.on else timezone.localdate(),
            package=parse_items(args.package),
            scaling=args.scaling,
            actor=None,
        )
    except (SuppliesError, ValueError) as exc:
        raise CommandError(str(exc)) from exc
    emit(args, {"id": d.pk, "name": d.name, "kind": d.kind}, f"Distribution #{d.pk} {d.name}")
    return 0


def cmd_allocate(args: argparse.Namespace) -> int:
    from fangzhou.lib.cli import CommandError, emit
    from fangzhou.registry.cli import community_from_code
    from fangzhou.supplies.services import SuppliesError, distribution_allocate

    d = _distribution(community_from_code(args.community), args.distribution)
    try:
        report = distribution_allocate(distribution=d, actor=None)
    except SuppliesError as exc:
        raise CommandError(str(exc)) from exc
    emit(args, vars(report), f"Allocated to {report.households} households ({report.created} new)")
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    from fangzhou.lib.cli import CommandError, emit
    from fangzhou.lib.sheets import UnreadableFile
    from fangzhou.registry.cli import community_from_code
    from fangzhou.supplies.services import SuppliesError, group_purchase_import

    d = _distribution(community_from_code(args.community), args.distribution)
    path = Path(args.file)
    if not path.is_file():
        raise CommandError(f"找不到文件 {path} / file not found: {path}")
    try:
        report = group_purchase_import(distribution=d, actor=None, data=path.read_bytes(), filename=path.name)
    except (UnreadableFile, SuppliesError) as exc:
        raise CommandError(str(exc)) from exc
    payload = report.as_dict()
    lines = [
        f"Imported: {report.created} new doors, {report.updated} changed, {report.unchanged} unchanged, "
        f"{len(report.rejected)} row(s) rejected"
    ]
    lines += [f"  row {r['row']} [{r['column']}]: {r['reason']}" for r in report.rejected]
    emit(args, payload, "\n".join(lines))
    return 0


def cmd_sweep(args: argparse.Namespace) -> int:
    from fangzhou.lib.cli import emit
    from fangzhou.registry.cli import community_from_code
    from fangzhou.supplies.models import Distribution
    from fangzhou.supplies.services import deliveries_sweep

    community = community_from_code(args.community)
    names = (
        [args.distribution]
        if args.distribution
        else list(
            Distribution.objects.filter(community=community, closed_at__isnull=True).values_list("name", flat=True)
        )
    )
    total = {"orders": 0, "created": 0}
    for name in names:
        report = deliveries_sweep(distribution=_distribution(community, name), actor=None)
        total["orders"] += report.orders
        total["created"] += report.created
    emit(args, total, f"{total['orders']} undelivered door(s) are work orders ({total['created']} new)")
    return 0


def cmd_routes(args: argparse.Namespace) -> int:
    from fangzhou.accounts.models import Role, User
    from fangzhou.lib.cli import CommandError, emit
    from fangzhou.registry.cli import community_from_code
    from fangzhou.registry.models import Building
    from fangzhou.supplies.models import RoutePlan
    from fangzhou.supplies.services import SuppliesError, route_plan_request, route_plan_run

    community = community_from_code(args.community)
    distribution = _distribution(community, args.distribution) if args.distribution else None
    buildings = Building.objects.filter(community=community)
    if args.buildings:
        buildings = buildings.filter(number__in=[b.strip() for b in args.buildings.split(",")])
    volunteers = User.objects.filter(community=community, role=Role.VOLUNTEER, is_active=True)
    if args.volunteers:
        volunteers = volunteers.filter(username__in=args.volunteers.split(","))
    try:
        plan = route_plan_request(
            community=community,
            actor=None,
            building_ids=list(buildings.values_list("pk", flat=True)),
            volunteer_ids=list(volunteers.values_list("pk", flat=True)),
            capacity=args.capacity,
            distribution=distribution,
            time_limit_s=args.time_limit,
        )
    except SuppliesError as exc:
        raise CommandError(str(exc)) from exc
    plan = route_plan_run(plan_id=plan.pk)  # the command waits for the plan (the job may run it too: a no-op)
    plan = RoutePlan.objects.get(pk=plan.pk)
    lines = [
        f"Plan #{plan.pk}: {plan.status}, {plan.legs.count()} trips, "
        f"{plan.total_distance_m} m, {plan.solve_time_s:.1f} s"
    ]
    for leg in plan.legs.select_related("volunteer"):
        lines.append(f"  trip {leg.index + 1} ({leg.volunteer}): " + " → ".join(s["label"] for s in leg.stops))
    emit(args, {"id": plan.pk, "status": plan.status, "distance_m": plan.total_distance_m}, "\n".join(lines))
    return 0


def register(sub: Any, add: Any) -> None:
    supplies = sub.add_parser("supplies", help="supplies to every door").add_subparsers(dest="action", required=True)
    p = add("create", cmd_create, "create a distribution", supplies)
    p.add_argument("--community", required=True)
    p.add_argument("--name", required=True)
    p.add_argument("--kind", choices=["government", "group_purchase"], default="government")
    p.add_argument("--package", default="", help="items per household, e.g. '大米:1, 食用油:1'")
    p.add_argument("--scaling", choices=["per_household", "by_size"], default=None)
    p.add_argument("--on", default="", help="date, YYYY-MM-DD (default today)")
    p = add("allocate", cmd_allocate, "give every household its government package", supplies)
    p.add_argument("--community", required=True)
    p.add_argument("--distribution", required=True, help="distribution name")
    p = add("import", cmd_import, "import a group purchase spreadsheet (building, room, item, quantity)", supplies)
    p.add_argument("file")
    p.add_argument("--community", required=True)
    p.add_argument("--distribution", required=True)
    p = add("sweep", cmd_sweep, "end of day: undelivered doors become work orders (idempotent)", supplies)
    p.add_argument("--community", required=True)
    p.add_argument("--distribution", default="", help="one distribution (default: every open one)")
    p = add("routes", cmd_routes, "plan volunteer routes and print them", supplies)
    p.add_argument("--community", required=True)
    p.add_argument("--distribution", default="")
    p.add_argument("--buildings", default="", help="building numbers, comma separated (default all)")
    p.add_argument("--volunteers", default="", help="usernames, comma separated (default all)")
    p.add_argument("--capacity", type=int, default=20)
    p.add_argument("--time-limit", type=float, default=None)
