"""Subcommands of `fangzhou testing`: new-round, import-samples, import-results, export-manifest."""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path
from typing import Any

from fangzhou.lib.cli import EXIT_OK, CommandError, emit
from fangzhou.registry.cli import community_from_code


def _round(round_id: int) -> Any:
    from fangzhou.testing.models import Round

    rnd = Round.objects.select_related("community").filter(pk=round_id).first()
    if rnd is None:
        raise CommandError(f"轮次 {round_id} 不存在 / round {round_id} does not exist")
    return rnd


def _read(path_text: str) -> tuple[bytes, str]:
    path = Path(path_text)
    if not path.is_file():
        raise CommandError(f"找不到文件 {path} / file not found: {path}")
    with path.open("rb") as handle:
        return handle.read(50 * 1024 * 1024 + 1), path.name


def cmd_new_round(args: argparse.Namespace) -> int:
    from fangzhou.testing.services import TestingError, round_create

    community = community_from_code(args.community)
    try:
        date = dt.date.fromisoformat(args.date)
    except ValueError as exc:
        raise CommandError(f"日期无效：{args.date}（YYYY-MM-DD）/ invalid date {args.date}") from exc
    try:
        rnd = round_create(community=community, date=date, pool_size=args.pool_size, actor=None)
    except TestingError as exc:
        raise CommandError(str(exc)) from exc
    payload = {"id": rnd.pk, "community": community.code, "date": date.isoformat(), "pool_size": rnd.pool_size}
    emit(args, payload, str(rnd.pk))
    return EXIT_OK


def cmd_import_samples(args: argparse.Namespace) -> int:
    from fangzhou.lib.sheets import UnreadableFile
    from fangzhou.testing.services import TestingError, samples_import

    rnd = _round(args.round)
    data, name = _read(args.file)
    try:
        report = samples_import(round=rnd, data=data, filename=name, actor=None)
    except (UnreadableFile, TestingError) as exc:
        raise CommandError(str(exc)) from exc
    payload = report.as_dict()
    lines = [
        f"Tubes {report.tubes}, samples {report.samples} ({report.single} single-tube re-tests), "
        f"unchanged {report.unchanged}, rejected {len(report.rejected)} row(s)"
    ]
    lines += [f"  row {r.row}: {r.reason}" for r in report.rejected]
    emit(args, payload, "\n".join(lines))
    return EXIT_OK


def cmd_import_results(args: argparse.Namespace) -> int:
    from fangzhou.lib.sheets import UnreadableFile
    from fangzhou.testing.services import results_import

    rnd = _round(args.round)
    data, name = _read(args.file)
    try:
        report = results_import(round=rnd, data=data, filename=name, actor=None)
    except UnreadableFile as exc:
        raise CommandError(str(exc)) from exc
    payload = report.as_dict()
    lines = [
        f"Tubes {report.tubes}: negative {report.negative}, positive {len(report.positive_tubes)} "
        f"{' '.join(report.positive_tubes)}, invalid {len(report.invalid_tubes)} {' '.join(report.invalid_tubes)}",
        f"Pending re-test: {len(report.retest)}; confirmed positive: {len(report.confirmed_positive)}; "
        f"cleared: {len(report.cleared)}; rejected {len(report.rejected)} row(s)",
    ]
    lines += [f"  row {r.row}: {r.reason}" for r in report.rejected]
    emit(args, payload, "\n".join(lines))
    return EXIT_OK


def cmd_export_manifest(args: argparse.Namespace) -> int:
    from fangzhou.testing.services import manifest_csv

    rnd = _round(args.round)
    text = manifest_csv(round=rnd)
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8-sig")
    tubes = max(text.count("\n") - 1, 0)
    emit(args, {"file": str(out), "tubes": tubes}, f"Wrote {out} ({tubes} tubes)")
    return EXIT_OK


def register(sub: Any, add: Any) -> None:
    """Add `fangzhou testing ...`."""
    testing = sub.add_parser("testing", help="mass PCR rounds and lab results").add_subparsers(
        dest="action", required=True
    )
    p = add("new-round", cmd_new_round, "create a round and print its id", testing)
    p.add_argument("--community", required=True)
    p.add_argument("--date", required=True)
    p.add_argument("--pool-size", type=int, default=10)
    p = add("import-samples", cmd_import_samples, "import samples taken in another app (.csv/.xlsx)", testing)
    p.add_argument("file")
    p.add_argument("--round", type=int, required=True)
    p = add("import-results", cmd_import_results, "import lab results (.csv/.xlsx)", testing)
    p.add_argument("file")
    p.add_argument("--round", type=int, required=True)
    p = add("export-manifest", cmd_export_manifest, "write the lab manifest (nothing personal)", testing)
    p.add_argument("--round", type=int, required=True)
    p.add_argument("-o", "--output", required=True)
