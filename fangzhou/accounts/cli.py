"""Subcommands of `fangzhou accounts`."""

from __future__ import annotations

import argparse
from typing import Any


def cmd_reset_link(args: argparse.Namespace) -> int:
    from django.conf import settings
    from django.urls import reverse

    from fangzhou.accounts.models import User
    from fangzhou.accounts.services import AccountError, signin_link_create
    from fangzhou.lib.cli import EXIT_OK, CommandError, emit

    user = User.objects.filter(username=args.user).first()
    if user is None:
        raise CommandError(f"没有用户 {args.user} / no such user: {args.user}")
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
    emit(args, payload, "\n".join(lines))
    return EXIT_OK


def register(sub: Any, add: Any) -> None:
    accounts = sub.add_parser("accounts", help="staff and volunteer accounts").add_subparsers(
        dest="action", required=True
    )
    p = add("reset-link", cmd_reset_link, "make a one-time sign-in / reset link for a user (signs them out)", accounts)
    p.add_argument("user", help="user name")
    p.add_argument("--base-url", default="", help="the site's address (default: PUBLIC_BASE_URL)")
    p.add_argument("--qr", action="store_true", help="also print the link as a QR code")
