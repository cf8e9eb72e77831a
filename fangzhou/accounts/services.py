"""Writes for accounts: creating staff users, passwords and sign-in links, recording sensitive actions."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from axes.utils import reset as axes_reset
from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.db import transaction
from django.db.models import Model
from django.utils import timezone

from fangzhou.accounts.audit import AuditAction, audit_record, masked
from fangzhou.accounts.models import ApiToken, Role, Scope, SignInLink, User
from fangzhou.accounts.permissions import can_manage_tokens, can_reset_password
from fangzhou.lib.errors import Refused


class AccountError(Refused):
    """A refused account action, with the reason in Chinese and English."""


LINK_SPENT = ("链接已失效（已使用或已过期），请向居委会重新索取", "this link has been used or has expired")


def user_upsert_in_transaction(
    *,
    username: str,
    password: str,
    role: Role,
    display_name: str = "",
    subdistrict: Model | None = None,
    community: Model | None = None,
    grids: Iterable[Model] = (),
    buildings: Iterable[Model] = (),
    actor: User | None = None,
) -> User:
    """Create or update a staff account with its role and place scope (idempotent on username).

    This form runs inside the caller's transaction (approving a volunteer); :func:`user_upsert` is the
    same in a transaction of its own."""
    user, created = User.objects.get_or_create(username=username, defaults={"role": role})
    user.role = role
    user.display_name = display_name
    user.subdistrict_id = subdistrict.pk if subdistrict is not None else None
    user.community_id = community.pk if community is not None else None
    user.is_staff = role == Role.ADMIN
    user.is_superuser = role == Role.ADMIN
    user.set_password(password)
    user.save()
    user.grids.set([grid.pk for grid in grids])
    user.buildings.set([building.pk for building in buildings])
    audit_record(
        actor=actor,
        action=AuditAction.USER_CREATE if created else AuditAction.USER_UPDATE,
        target_type="user",
        target_id=user.pk,
        community=community,
        detail={"role": role, "username": masked(username)},
    )
    return user


user_upsert = transaction.atomic(durable=True)(user_upsert_in_transaction)


def password_change(*, user: User, new_password: str) -> User:
    """Set a user's own new password (the page has checked the old one and the policy) and audit it.

    Every other session of the user ends: their session hash changes with the password."""
    with transaction.atomic():
        user.set_password(new_password)
        user.save(update_fields=["password"])
        audit_record(
            actor=user,
            action=AuditAction.ACCOUNT_PASSWORD_CHANGE,
            target_type="user",
            target_id=user.pk,
            community_id=user.community_id,
        )
    return user


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class NewSignInLink:
    link: SignInLink
    token: str  # shown once, never stored


def signin_link_create(*, user: User, actor: User | None) -> NewSignInLink:
    """A one-time sign-in / reset link for ``user``, made by the committee of their community.

    The account is signed out everywhere at once (its password becomes unusable until the link is
    used): the answer to a forgotten password and to a stolen phone alike. Older unused links end.
    ``actor`` None is the operator's CLI."""
    if actor is not None and not can_reset_password(actor, user):
        raise AccountError("无权为此账号生成登录链接", "you may not make a sign-in link for this account")
    if not user.is_active:
        raise AccountError("此账号已停用", "this account is disabled")
    now = timezone.now()
    token = secrets.token_urlsafe(32)
    with transaction.atomic():
        SignInLink.objects.filter(user=user, used_at__isnull=True, expires_at__gt=now).update(expires_at=now)
        link = SignInLink.objects.create(
            user=user,
            token_hash=_token_hash(token),
            created_by=actor,
            expires_at=now + dt.timedelta(hours=settings.FANGZHOU_SIGNIN_LINK_HOURS),
        )
        user.set_unusable_password()
        user.save(update_fields=["password"])
        audit_record(
            actor=actor,
            action=AuditAction.ACCOUNT_RESET_LINK,
            target_type="user",
            target_id=user.pk,
            community_id=user.community_id,
            detail={"link": link.pk, "expires_at": link.expires_at.isoformat()},
        )
    return NewSignInLink(link=link, token=token)


def signin_link_valid(token: str) -> SignInLink | None:
    """The link a token opens, if it is unused and unexpired (a look only: opening does not use it,
    so that a chat app's link preview cannot spend it)."""
    if not token or len(token) > 100:
        return None
    return (
        SignInLink.objects.filter(
            token_hash=_token_hash(token), used_at__isnull=True, expires_at__gt=timezone.now(), user__is_active=True
        )
        .select_related("user")
        .first()
    )


def signin_link_use(*, token: str, new_password: str) -> User:
    """Spend a link: set the new password (checked against the policy) and clear the sign-in lock.

    Exactly one of two simultaneous uses wins (conditional update); the loser is refused."""
    link = signin_link_valid(token)
    if link is None:
        raise AccountError(*LINK_SPENT)
    user = link.user
    validate_password(new_password, user=user)
    now = timezone.now()
    with transaction.atomic():
        spent = SignInLink.objects.filter(pk=link.pk, used_at__isnull=True, expires_at__gt=now).update(used_at=now)
        if spent != 1:
            raise AccountError(*LINK_SPENT)
        user.set_password(new_password)
        user.save(update_fields=["password"])
        audit_record(
            actor=user,
            action=AuditAction.ACCOUNT_RESET_LINK_USED,
            target_type="user",
            target_id=user.pk,
            community_id=user.community_id,
            detail={"link": link.pk},
        )
    axes_reset(username=user.username)
    return user


def login_lockout_record(*, username: str) -> None:
    """An account was locked after too many failed sign-ins (django-axes' signal): one audit row."""
    user = User.objects.filter(username=username).first()
    audit_record(
        actor=None,
        action=AuditAction.ACCOUNT_LOCKOUT,
        target_type="user",
        target_id=user.pk if user else username[:64],
        community_id=user.community_id if user else None,
        detail={"failures": settings.AXES_FAILURE_LIMIT},
    )


def on_user_locked_out(sender: object, request: Any = None, username: str | None = None, **kwargs: Any) -> None:
    """django-axes' ``user_locked_out`` receiver: audit the lock once, when the account reaches the
    failure limit (the signal fires again on every guess during the lock)."""
    if username and getattr(request, "axes_failures_since_start", None) == settings.AXES_FAILURE_LIMIT:
        login_lockout_record(username=username)


# --------------------------------------------------------------------------------------------------
# Machine clients' API keys

KEY_PREFIX = "fz_"


def api_key_hash(key: str) -> str:
    """What is stored of a key: its SHA-256 (the key is 256 random bits, so no slow hash is needed)."""
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True)
class NewApiToken:
    token: ApiToken
    key: str  # ``fz_<prefix>_<secret>``: shown once, never stored


def _scopes(scopes: Iterable[str]) -> list[str]:
    chosen = sorted({str(s).strip() for s in scopes if str(s).strip()})
    known = set(Scope.values)
    unknown = [s for s in chosen if s not in known]
    if unknown or not chosen:
        raise AccountError(
            f"权限范围无效：{'、'.join(unknown) or '（未选择）'}（可选 {'、'.join(sorted(known))}）",
            f"unknown or missing scope: {', '.join(unknown) or '(none)'} (choose from {', '.join(sorted(known))})",
        )
    return chosen


def api_token_create(
    *,
    name: str,
    scopes: Iterable[str],
    community: Model | None = None,
    subdistrict: Model | None = None,
    expires_at: dt.datetime | None = None,
    actor: User | None,
) -> NewApiToken:
    """A key for a machine client of one community or one subdistrict, with its scopes.

    Returns the key once; only its hash is kept. ``actor`` None is the operator's CLI."""
    if (community is None) == (subdistrict is None):
        raise AccountError("密钥须属于一个社区或一个街道", "a key belongs to one community or one subdistrict")
    chosen = _scopes(scopes)
    community_id = community.pk if community is not None else None
    subdistrict_id = subdistrict.pk if subdistrict is not None else None
    if actor is not None and not can_manage_tokens(
        actor, community_id=community_id, subdistrict_id=subdistrict_id, scopes=chosen
    ):
        raise AccountError("无权为此处生成此权限的密钥", "you may not make a key with these scopes here")
    label = " ".join(name.split())[:64]
    if not label:
        raise AccountError("请填写密钥名称（如：某某检测机构）", "give the key a name (e.g. the lab's)")
    if expires_at is not None and expires_at <= timezone.now():
        raise AccountError("到期时间须在将来", "the expiry must be in the future")
    prefix = secrets.token_hex(4)
    while ApiToken.objects.filter(prefix=prefix).exists():  # 1 in 4 billion
        prefix = secrets.token_hex(4)
    key = f"{KEY_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    with transaction.atomic(durable=True):
        token = ApiToken.objects.create(
            name=label,
            prefix=prefix,
            secret_hash=api_key_hash(key),
            scopes=chosen,
            community_id=community_id,
            subdistrict_id=subdistrict_id,
            created_by=actor,
            expires_at=expires_at,
        )
        audit_record(
            actor=actor,
            action=AuditAction.API_TOKEN_CREATE,
            target_type="api_token",
            target_id=token.pk,
            community_id=community_id,
            detail={
                "prefix": prefix,
                "name": masked(label),
                "scopes": chosen,
                "subdistrict": subdistrict_id,
                "expires_at": expires_at.isoformat() if expires_at else None,
            },
        )
    return NewApiToken(token=token, key=key)


def api_token_revoke(*, token: ApiToken, actor: User | None) -> ApiToken:
    """Revoke a key at once (idempotent: a revoked key stays revoked, audited once)."""
    if actor is not None and not can_manage_tokens(
        actor, community_id=token.community_id, subdistrict_id=token.subdistrict_id
    ):
        raise AccountError("无权吊销此密钥", "you may not revoke this key")
    now = timezone.now()
    with transaction.atomic(durable=True):
        if ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=now, revoked_by=actor):
            audit_record(
                actor=actor,
                action=AuditAction.API_TOKEN_REVOKE,
                target_type="api_token",
                target_id=token.pk,
                community_id=token.community_id,
                detail={"prefix": token.prefix, "subdistrict": token.subdistrict_id},
            )
    token.refresh_from_db(fields=["revoked_at", "revoked_by"])
    return token


def api_token_refusal_record(*, token: ApiToken | None, prefix: str, reason: str, path: str) -> None:
    """A request with a key was refused (unknown, wrong secret, revoked, expired, wrong scope, over
    its limit, another community's record): one audit row, naming the key by its prefix only."""
    audit_record(
        actor=None,
        action=AuditAction.API_TOKEN_REFUSE,
        target_type="api_token",
        target_id=token.pk if token is not None else (prefix[:16] or "-"),
        community_id=token.community_id if token is not None else None,
        detail={"reason": reason, "prefix": prefix[:16], "path": masked(path[:200])},
    )
