"""The ``fangzhou`` command: operations for the committee and the operator.

Each subcommand calls the same services as the pages and the API. ``--json`` prints one JSON
object; exit code 0 means success, 2 means the input was refused (with a clear message on stderr).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from django.conf import settings

from fangzhou.lib.cli import EXIT_OK, EXIT_REFUSED, CommandError, emit


def _setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fangzhou.settings")
    import django

    django.setup()


def _community(code: str) -> Any:
    from fangzhou.registry.cli import community_from_code

    return community_from_code(code)


def cmd_migrate(args: argparse.Namespace) -> int:
    from django.core.management import call_command

    settings.DATA_DIR.mkdir(parents=True, exist_ok=True)
    call_command("migrate", interactive=False, verbosity=0 if args.json else 1)
    emit(args, {"migrated": True}, "Database is up to date.")
    return EXIT_OK


def cmd_community_create(args: argparse.Namespace) -> int:
    from fangzhou.registry.services import RegistryError, community_create

    try:
        community = community_create(
            code=args.code,
            name=args.name,
            subdistrict_name=args.subdistrict or "",
            phone_area_code=args.phone_area_code or "",
        )
    except RegistryError as exc:
        raise CommandError(str(exc)) from exc
    emit(
        args,
        {
            "code": community.code,
            "name": community.name,
            "subdistrict": community.subdistrict.name,
            "phone_area_code": community.phone_area_code,
            "id": community.pk,
        },
        f"Community {community.code} {community.name} ({community.subdistrict.name})",
    )
    return EXIT_OK


def cmd_roster_import(args: argparse.Namespace) -> int:
    from fangzhou.lib.sheets import UnreadableFile
    from fangzhou.registry.services import roster_import

    community = _community(args.community)
    path = Path(args.file)
    if not path.is_file():
        raise CommandError(f"找不到文件 {path} / file not found: {path}")
    with path.open("rb") as handle:
        data = handle.read(50 * 1024 * 1024 + 1)
    try:
        report = roster_import(community=community, actor=None, data=data, filename=path.name, dry_run=args.dry_run)
    except UnreadableFile as exc:
        raise CommandError(str(exc)) from exc
    payload = report.as_dict()
    lines = [
        f"{'Preview (nothing written)' if args.dry_run else 'Imported'}: created {report.created}, "
        f"updated {report.updated}, unchanged {report.unchanged}, rejected {len(report.rejected)} row(s)",
    ]
    lines += [f"  row {r['row']} [{r['column']}]: {r['reason']}" for r in payload["rejected"]]
    emit(args, payload, "\n".join(lines))
    return EXIT_OK


def cmd_roster_export(args: argparse.Namespace) -> int:
    from fangzhou.registry.services import roster_export

    community = _community(args.community)
    content = roster_export(community=community, actor=None)
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(content)
    emit(args, {"file": str(out), "bytes": len(content)}, f"Wrote {out}")
    return EXIT_OK


def cmd_roster_counts(args: argparse.Namespace) -> int:
    from fangzhou.registry.services import community_counts_check, community_counts_repair

    differ = community_counts_repair() if args.repair else community_counts_check()
    rows = [
        {
            "community": m.code,
            "kept": {"residents": m.kept_residents, "households": m.kept_households},
            "counted": {"residents": m.residents, "households": m.households},
        }
        for m in differ
    ]
    lines = [
        f"{m.code}: kept {m.kept_residents} residents, {m.kept_households} households; "
        f"counted {m.residents}, {m.households}"
        for m in differ
    ]
    if args.repair:
        lines.append(f"重建完成 / rebuilt ({len(differ)} communities differed)")
    elif not differ:
        lines.append("居民、户数计数一致 / the kept counts agree with a fresh count")
    emit(args, {"differ": rows, "repaired": bool(args.repair)}, "\n".join(lines))
    return EXIT_OK if args.repair or not differ else EXIT_REFUSED


def _token_row(token: Any) -> dict[str, Any]:
    return {
        "id": token.pk,
        "prefix": f"fz_{token.prefix}",
        "name": token.name,
        "scopes": token.scopes,
        "community": token.community.code if token.community_id else None,
        "subdistrict": token.subdistrict.name if token.subdistrict_id else None,
        "created_at": token.created_at.isoformat(),
        "expires_at": token.expires_at.isoformat() if token.expires_at else None,
        "last_used_at": token.last_used_at.isoformat() if token.last_used_at else None,
        "revoked_at": token.revoked_at.isoformat() if token.revoked_at else None,
    }


def cmd_tokens_create(args: argparse.Namespace) -> int:
    import datetime as dt

    from django.utils import timezone

    from fangzhou.accounts.services import AccountError, api_token_create
    from fangzhou.registry.models import Subdistrict

    if bool(args.community) == bool(args.subdistrict):
        raise CommandError("请指定 --community 或 --subdistrict 之一 / give one of --community or --subdistrict")
    place: dict[str, Any] = {}
    if args.community:
        place["community"] = _community(args.community)
    else:
        subdistrict = Subdistrict.objects.filter(name=args.subdistrict).first()
        if subdistrict is None:
            raise CommandError(f"街道 {args.subdistrict} 不存在 / no subdistrict {args.subdistrict}")
        place["subdistrict"] = subdistrict
    expires = timezone.now() + dt.timedelta(days=args.expires_days) if args.expires_days else None
    scopes = [s for value in args.scope for s in value.split(",")]
    try:
        made = api_token_create(name=args.name, scopes=scopes, expires_at=expires, actor=None, **place)
    except AccountError as exc:
        raise CommandError(exc.reason) from exc
    row = _token_row(made.token)
    emit(
        args,
        {**row, "key": made.key},
        f"API key {row['id']} for {made.token.name} ({', '.join(made.token.scopes)}); shown only now:\n{made.key}",
    )
    return EXIT_OK


def cmd_tokens_list(args: argparse.Namespace) -> int:
    from fangzhou.accounts.models import ApiToken

    tokens = ApiToken.objects.select_related("community", "subdistrict").order_by("pk")
    if args.community:
        tokens = tokens.filter(community=_community(args.community))
    rows = [_token_row(t) for t in tokens]
    lines = [
        f"{r['id']:>4}  {r['prefix']}  {r['name']}  {','.join(r['scopes'])}  {r['community'] or r['subdistrict']}"
        f"  {'revoked ' + r['revoked_at'][:16] if r['revoked_at'] else 'active'}"
        f"  last used {r['last_used_at'][:16] if r['last_used_at'] else 'never'}"
        for r in rows
    ]
    emit(args, {"tokens": rows}, "\n".join(lines) or "No API keys.")
    return EXIT_OK


def cmd_tokens_revoke(args: argparse.Namespace) -> int:
    from fangzhou.accounts.models import ApiToken
    from fangzhou.accounts.services import api_token_revoke

    token = ApiToken.objects.filter(pk=args.id).first()
    if token is None:
        raise CommandError(f"没有编号为 {args.id} 的密钥 / no API key {args.id}")
    token = api_token_revoke(token=token, actor=None)
    emit(args, _token_row(token), f"API key {token.pk} (fz_{token.prefix}) revoked.")
    return EXIT_OK


def cmd_demo(args: argparse.Namespace) -> int:
    from django.core.management import call_command

    from fangzhou.demo import demo_operations
    from fangzhou.registry.demo import demo_seed
    from fangzhou.registry.models import Community

    settings.DATA_DIR.mkdir(parents=True, exist_ok=True)
    call_command("migrate", interactive=False, verbosity=0)
    result = demo_seed(size=args.size, stdout=sys.stdout)
    extra = demo_operations(community=Community.objects.get(code=result.communities[0]), stdout=sys.stdout)
    print("\nDemo accounts (passwords are new on every run):")
    for username, role, password, scope in [*result.accounts, *extra]:
        print(f"  {username:<12} {password:<26} {role:<20} {scope}")
    if args.no_serve:
        return EXIT_OK
    print(f"\nServing on http://127.0.0.1:{args.port}/  (Ctrl-C to stop)")
    from fangzhou.ops.scheduler import start_scheduler_thread

    start_scheduler_thread()  # the schedule in-process (escalation, escorts, end of day, retention)
    call_command("runserver", f"127.0.0.1:{args.port}", use_reloader=False, use_threading=True)
    return EXIT_OK


def cmd_serve(args: argparse.Namespace) -> int:
    from django.core.management import call_command

    call_command("collectstatic", interactive=False, verbosity=0)
    gunicorn = Path(sys.executable).with_name("gunicorn")
    argv = [
        str(gunicorn),
        "fangzhou.wsgi:application",
        "--bind",
        args.bind,
        "--workers",
        str(args.workers),
        "--threads",
        "4",
        "--timeout",
        "120",
        "--config",
        "python:fangzhou.ops.gunicorn_conf",
    ]
    os.execv(argv[0], argv)  # noqa: S606 - replaces this process with the WSGI server
    return EXIT_OK  # pragma: no cover


def cmd_manage(args: argparse.Namespace) -> int:
    from django.core.management import execute_from_command_line

    execute_from_command_line(["fangzhou manage", *args.rest])
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fangzhou", description="Fangzhou (方舟): lockdown operations for a community"
    )
    sub = parser.add_subparsers(dest="command", required=True)

    def add(name: str, handler: Callable[[argparse.Namespace], int], help_text: str, parent: Any = sub) -> Any:
        p = parent.add_parser(name, help=help_text)
        p.set_defaults(handler=handler)
        p.add_argument("--json", action="store_true", help="print one JSON object")
        return p

    add("migrate", cmd_migrate, "create or update the database")

    community = sub.add_parser("community", help="communities").add_subparsers(dest="action", required=True)
    p = add("create", cmd_community_create, "create a community", community)
    p.add_argument("code")
    p.add_argument("--name", required=True)
    p.add_argument("--subdistrict", default="")
    p.add_argument(
        "--phone-area-code", default="", help="for landlines written without one, e.g. 0571 (default 021, Shanghai)"
    )

    roster = sub.add_parser("roster", help="the residents' roster").add_subparsers(dest="action", required=True)
    p = add("import", cmd_roster_import, "import an .xlsx, .xls, .csv or Unicode text roster", roster)
    p.add_argument("file")
    p.add_argument("--community", required=True)
    p.add_argument("--dry-run", action="store_true", help="check and report, write nothing")
    p = add("export", cmd_roster_export, "export the roster as .xlsx", roster)
    p.add_argument("--community", required=True)
    p.add_argument("-o", "--output", required=True)
    p = add(
        "counts",
        cmd_roster_counts,
        "check the residents and households kept per community against a fresh count (exit 2 if they differ)",
        roster,
    )
    p.add_argument("--repair", action="store_true", help="rebuild the kept counts from a fresh count")

    tokens = sub.add_parser("tokens", help="machine clients' API keys").add_subparsers(dest="action", required=True)
    p = add("create", cmd_tokens_create, "make an API key (printed once) for a community or a subdistrict", tokens)
    p.add_argument("--community", default="", help="community code")
    p.add_argument("--subdistrict", default="", help="subdistrict name (the key reaches all its communities)")
    p.add_argument(
        "--scope", action="append", required=True, help="results:write, samples:write, reports:read (repeat or comma)"
    )
    p.add_argument("--name", required=True, help="who uses it (the lab's name)")
    p.add_argument("--expires-days", type=int, default=0, help="expire after this many days (default: never)")
    p = add("list", cmd_tokens_list, "list API keys (never their secrets)", tokens)
    p.add_argument("--community", default="")
    p = add("revoke", cmd_tokens_revoke, "revoke an API key at once", tokens)
    p.add_argument("id", type=int)

    p = add("demo", cmd_demo, "generate a demo community and serve it")
    p.add_argument("--size", choices=["small", "default", "large"], default="default")
    p.add_argument("--no-serve", action="store_true")
    p.add_argument("--port", type=int, default=8000)

    p = add("serve", cmd_serve, "run the production server (gunicorn) on DATABASE_URL")
    p.add_argument("--bind", default="127.0.0.1:8000")
    p.add_argument("--workers", type=int, default=3)

    p = sub.add_parser("manage", help="run a Django management command", add_help=False)
    p.add_argument("rest", nargs=argparse.REMAINDER)
    p.set_defaults(handler=cmd_manage, json=False)

    from fangzhou.commands import register_all

    register_all(sub, add)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        _setup()
        result: int = args.handler(args)
        return result
    except CommandError as exc:
        message = str(exc)
        if getattr(args, "json", False):
            print(json.dumps({"error": message}, ensure_ascii=False))
        print(f"fangzhou: {message}", file=sys.stderr)
        return EXIT_REFUSED
    except KeyboardInterrupt:
        return 130
