"""Subcommands of `fangzhou cases`."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def cmd_cases_import(args: argparse.Namespace) -> int:
    from fangzhou.cases.services import cases_import
    from fangzhou.lib.cli import CommandError, emit
    from fangzhou.lib.sheets import UnreadableFile
    from fangzhou.registry.cli import community_from_code

    community = community_from_code(args.community)
    path = Path(args.file)
    if not path.is_file():
        raise CommandError(f"找不到文件 {path} / file not found: {path}")
    data = path.read_bytes()[: 50 * 1024 * 1024 + 1]
    try:
        report = cases_import(community=community, actor=None, data=data, filename=path.name)
    except UnreadableFile as exc:
        raise CommandError(str(exc)) from exc
    payload = report.as_dict()
    lines = [
        f"Cases: created {report.created}, updated {report.updated}, unchanged {report.unchanged}, "
        f"rejected {len(report.rejected)} row(s)"
    ]
    lines += [f"  row {r['row']}: {r['reason']}" for r in payload["rejected"]]
    emit(args, payload, "\n".join(lines))
    return 0


def cmd_contacts_import(args: argparse.Namespace) -> int:
    from fangzhou.cases.contacts import contacts_import
    from fangzhou.lib.cli import CommandError, emit
    from fangzhou.lib.sheets import UnreadableFile
    from fangzhou.registry.cli import community_from_code

    community = community_from_code(args.community)
    path = Path(args.file)
    if not path.is_file():
        raise CommandError(f"找不到文件 {path} / file not found: {path}")
    try:
        report = contacts_import(
            community=community, actor=None, data=path.read_bytes()[: 50 * 1024 * 1024 + 1], filename=path.name
        )
    except UnreadableFile as exc:
        raise CommandError(str(exc)) from exc
    payload = report.as_dict()
    lines = [
        f"Contacts: created {report.created}, unchanged {report.unchanged}, rejected {len(report.rejected)} row(s)"
    ]
    lines += [f"  row {r['row']}: {r['reason']}" for r in payload["rejected"]]
    emit(args, payload, "\n".join(lines))
    return 0


def register(sub: Any, add: Any) -> None:
    cases = sub.add_parser("cases", help="cases and isolation").add_subparsers(dest="action", required=True)
    p = add("import", cmd_cases_import, "import the district's list of cases (.csv or .xlsx)", cases)
    p.add_argument("file")
    p.add_argument("--community", required=True)
    p = add("import-contacts", cmd_contacts_import, "import the district's list of close and secondary contacts", cases)
    p.add_argument("file")
    p.add_argument("--community", required=True)
