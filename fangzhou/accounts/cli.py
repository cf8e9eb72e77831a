"""Subcommands of `fangzhou accounts`: create, disable, enable, reset-link, deputy.

The operator's command line acts as no one (``actor`` None in the audit log): it may do what any
committee may, but never create or change an administrator, and never pass a password by hand —
a new account gets a one-time sign-in link."""

from __future__ import annotations

import argparse
from typing import Any


def _user(name: str) -> Any:
    from fangzhou.accounts.models import User
    from fangzhou.lib.cli import CommandError

    user = User.objects.filter(username=name).first()
    if user is None:
        raise CommandError(f"没有用户 {name} / no such user: {name}")
    return user


def _link_lines(args: argparse.Namespace, user: Any) -> tuple[dict[str, Any], list[str]]:
    from django.conf import settings
    from django.urls import reverse

    from fangzhou.accounts.services import AccountError, signin_link_create
    from fangzhou.lib.cli import CommandError

    try:
        made = signin_link_create(user=user, actor=None)
    except AccountError as exc:
        raise CommandError(exc.reason) from exc
    base = (args.base_url or settings.PUBLIC_BASE_URL or "http://127.0.0.1:8000").rstrip("/")
    url = base + reverse("accounts:signin_link", args=[made.token])
    payload = {"user": user.username, "url": url, "expires_at": made.link.expires_at.isoformat()}
    lines = [
        f"One-time sign-in link for {user.username} (works once, until {made.link.expires_at:%Y-%m-%d %H:%M %Z}):",
        url,
    ]
    if args.qr:
        import io

        import segno

        out = io.StringIO()
        segno.make(url, error="m").terminal(out=out, compact=True)
        lines.append(out.getvalue())
    return payload, lines


def cmd_reset_link(args: argparse.Namespace) -> int:
    from fangzhou.lib.cli import EXIT_OK, emit

    payload, lines = _link_lines(args, _user(args.user))
    emit(args, payload, "\n".join(lines))
    return EXIT_OK


def _community(code: str) -> Any:
    from django.db.models import Q

    from fangzhou.accounts.hooks import places
    from fangzhou.lib.cli import CommandError

    found = places().communities(Q(code=code))
    if not found:
        raise CommandError(f"没有居民区 {code} / no such community: {code}")
    return found[0]


def cmd_create(args: argparse.Namespace) -> int:
    from fangzhou.accounts.hooks import places
    from fangzhou.accounts.models import Role
    from fangzhou.accounts.services import AccountError, account_create
    from fangzhou.lib.cli import EXIT_OK, CommandError, emit

    community = _community(args.community)
    buildings = places().buildings(community.pk)
    chosen = []
    for wanted in args.building:
        match = [b for b in buildings if wanted in {str(b.pk), b.label}]
        if len(match) != 1:
            raise CommandError(
                f"居民区 {community.code} 没有楼栋 {wanted}（请写“小区 楼号”或编号） / "
                f"no building {wanted} in {community.code} (write 'compound building' or its id)"
            )
        chosen.append(match[0])
    try:
        user, created = account_create(
            actor=None,
            username=args.username,
            role=Role(args.role),
            community=community,
            display_name=args.name,
            phone=args.phone,
            buildings=chosen,
        )
    except AccountError as exc:
        raise CommandError(exc.reason) from exc
    payload: dict[str, Any] = {"user": user.username, "role": user.role, "community": community.code}
    payload["created"] = created
    lines = [f"{'Created' if created else 'Already there, unchanged'}: {user.username} ({user.role}, {community.code})"]
    if args.link:
        link, link_lines = _link_lines(args, user)
        payload["link"] = link
        lines += link_lines
    emit(args, payload, "\n".join(lines))
    return EXIT_OK


def _toggle(args: argparse.Namespace, *, enable: bool) -> int:
    from fangzhou.accounts.services import AccountError, account_disable, account_enable
    from fangzhou.lib.cli import EXIT_OK, CommandError, emit

    user = _user(args.username)
    was = user.is_active
    try:
        (account_enable if enable else account_disable)(actor=None, target=user)
    except AccountError as exc:
        raise CommandError(exc.reason) from exc
    changed = was != enable
    state = "enabled" if enable else "disabled"
    payload = {"user": user.username, "active": enable, "changed": changed}
    emit(args, payload, f"{user.username}: {state}" + ("" if changed else " (already)"))
    return EXIT_OK


def cmd_disable(args: argparse.Namespace) -> int:
    return _toggle(args, enable=False)


def cmd_enable(args: argparse.Namespace) -> int:
    return _toggle(args, enable=True)


def cmd_deputy(args: argparse.Namespace) -> int:
    import datetime as dt

    from django.utils import timezone

    from fangzhou.accounts.services import AccountError, deputy_name
    from fangzhou.lib.cli import EXIT_OK, CommandError, emit

    community = _community(args.community)
    deputy = _user(args.username)
    until = None
    if args.until:
        try:
            until = dt.datetime.fromisoformat(args.until)
        except ValueError as exc:
            raise CommandError("--until 应为 2022-04-30T18:00 / --until must look like 2022-04-30T18:00") from exc
        if timezone.is_naive(until):
            until = timezone.make_aware(until)
    try:
        _made, created = deputy_name(actor=None, community=community, deputy=deputy, ends_at=until)
    except AccountError as exc:
        raise CommandError(exc.reason) from exc
    payload = {"deputy": deputy.username, "community": community.code, "until": until, "created": created}
    emit(args, payload, f"{deputy.username} acts as secretary of {community.code} until {until or 'revoked'}")
    return EXIT_OK


ROLE_CHOICES = ["social_worker", "grid_leader", "building_leader", "property_manager", "owners_committee", "secretary"]


def register(sub: Any, add: Any) -> None:
    accounts = sub.add_parser("accounts", help="staff and volunteer accounts").add_subparsers(
        dest="action", required=True
    )

    def link_options(p: Any) -> None:
        p.add_argument("--base-url", default="", help="the site's address (default: PUBLIC_BASE_URL)")
        p.add_argument("--qr", action="store_true", help="also print the link as a QR code")

    p = add("create", cmd_create, "create a staff, leader or property-management account (no password)", accounts)
    p.add_argument("username", help="user name (for signing in)")
    p.add_argument("--role", required=True, choices=ROLE_CHOICES)
    p.add_argument("--community", required=True, help="community code")
    p.add_argument("--name", default="", help="the person's name as colleagues know it")
    p.add_argument("--phone", default="")
    p.add_argument("--building", action="append", default=[], help="a building leader's building (repeatable)")
    p.add_argument("--link", action="store_true", help="also make a one-time sign-in link")
    link_options(p)
    p = add("disable", cmd_disable, "disable an account (signs it out at once)", accounts)
    p.add_argument("username")
    p = add("enable", cmd_enable, "enable a disabled account again", accounts)
    p.add_argument("username")
    p = add("reset-link", cmd_reset_link, "make a one-time sign-in / reset link for a user (signs them out)", accounts)
    p.add_argument("user", help="user name")
    link_options(p)
    p = add("deputy", cmd_deputy, "hand the secretary's duties to a colleague (until a time or revoked)", accounts)
    p.add_argument("community", help="community code")
    p.add_argument("username", help="the deputy's user name")
    p.add_argument("--until", default="", help="end, e.g. 2022-04-30T18:00 (default: until revoked)")
