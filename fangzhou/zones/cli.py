"""Subcommands of `fangzhou zones`."""

from __future__ import annotations

import argparse
import datetime as dt
from typing import Any


def cmd_zones_status(args: argparse.Namespace) -> int:
    from django.utils import timezone

    from fangzhou.lib.cli import CommandError, emit
    from fangzhou.registry.cli import community_from_code
    from fangzhou.zones.selectors import UnknownRuleSet, rule_set_named, zone_report, zone_report_json

    community = community_from_code(args.community)
    try:
        on = dt.date.fromisoformat(args.on) if args.on else timezone.localdate()
    except ValueError as exc:
        raise CommandError(f"日期格式应为 YYYY-MM-DD：{args.on} / date must be YYYY-MM-DD: {args.on}") from exc
    try:
        rules = rule_set_named(args.rules) if args.rules else None
    except UnknownRuleSet as exc:
        raise CommandError(str(exc)) from exc
    report = zone_report(community, on, rules)
    payload = zone_report_json(report)

    def why(state: Any) -> str:
        if state.last_case_on is None:
            return "no case / 无病例"
        text = f"last case {state.last_case_on}"
        if state.next_change_on:
            text += f", {state.next_status} from {state.next_change_on}"
        if state.overridden:
            text += f" [override by {state.override_by} until {state.override_until}: {state.override_reason}]"
        return text

    lines = [f"{community.code} {community.name} — {on} — {report.rules.name}"]
    for p in report.compounds:
        lines.append(f"compound  {p.name:<16} {p.state.status:<11} {why(p.state)}")
    for p in report.microzones:
        lines.append(f"block     {p.compound}/{p.name:<12} {p.state.status:<11} {why(p.state)}")
    for b in report.buildings:
        zone = f" ({b.zone})" if b.zone else ""
        lines.append(f"building  {b.full_label}{zone:<10} {b.state.status:<11} {why(b.state)}")
    emit(args, payload, "\n".join(lines))
    return 0


def cmd_siteplan_import(args: argparse.Namespace) -> int:
    from pathlib import Path

    from fangzhou.lib.cli import CommandError, emit
    from fangzhou.registry.cli import community_from_code
    from fangzhou.zones.services import ZoneError
    from fangzhou.zones.siteplan_io import MAX_BYTES, site_plan_import, site_plan_parse

    community = community_from_code(args.community)
    path = Path(args.file)
    if not path.is_file():
        raise CommandError(f"找不到文件 {path} / file not found: {path}")
    try:
        document = site_plan_parse(path.read_bytes()[: MAX_BYTES + 1])
    except ZoneError as exc:
        raise CommandError(exc.reason) from exc
    report = site_plan_import(community=community, document=document, actor=None)
    payload = report.as_dict()
    lines = [
        f"placed {report.buildings} buildings, {report.roads} roads, {report.gates} gates, "
        f"{report.open_spaces} open spaces; rejected {len(report.rejected)}"
    ]
    lines += [f"  {p['where']}: {p['reason']}" for p in payload["rejected"]]
    emit(args, payload, "\n".join(lines))
    return 0


def cmd_siteplan_export(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    from fangzhou.lib.cli import emit
    from fangzhou.registry.cli import community_from_code
    from fangzhou.zones.siteplan_io import site_plan_export

    community = community_from_code(args.community)
    document = site_plan_export(community)
    out = Path(args.output)
    out.write_text(json.dumps(document, ensure_ascii=False, indent=1), encoding="utf-8")
    emit(args, {"file": str(out), "compounds": len(document["compounds"])}, f"Wrote {out}")
    return 0


def register(sub: Any, add: Any) -> None:
    zones = sub.add_parser("zones", help="three zones (三区)").add_subparsers(dest="action", required=True)
    p = add("status", cmd_zones_status, "zone status of every compound, block and building on a date", zones)
    p.add_argument("--community", required=True)
    p.add_argument("--on", help="YYYY-MM-DD (default: today)")
    p.add_argument("--rules", help="rule set name (default: the community's)")
    p = add("siteplan-import", cmd_siteplan_import, "load the site plan (buildings, roads, gates) from JSON", zones)
    p.add_argument("file")
    p.add_argument("--community", required=True)
    p = add("siteplan-export", cmd_siteplan_export, "write the site plan as JSON (the import's format)", zones)
    p.add_argument("--community", required=True)
    p.add_argument("-o", "--output", required=True)
