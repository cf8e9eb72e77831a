"""Writes for accounts: creating staff users, passwords and sign-in links, recording sensitive actions."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from axes.utils import reset as axes_reset
from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.db import transaction
from django.db.models import Model, Q
from django.utils import timezone

from fangzhou.accounts.audit import AuditAction, audit_record, masked
from fangzhou.accounts.models import ApiToken, Deputy, Role, Scope, SignInLink, User
from fangzhou.accounts.permissions import (
    DEPUTY_ROLES,
    OFFICER_MANAGES,
    SECRETARY_MANAGES,
    can_create_account,
    can_manage_account,
    can_manage_tokens,
    can_name_deputy,
    can_reset_password,
    is_officer,
    is_secretary_of,
    member_of,
    reach_forget,
)
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
    if actor is not None and not can_reset_password(actor, user, subdistrict_id=_subdistrict_of(user)):
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


# --------------------------------------------------------------------------- accounts from a page


class CommunityLike(Protocol):
    """What the account services need of a community (the registry's ``Community``)."""

    @property
    def pk(self) -> Any: ...

    @property
    def subdistrict_id(self) -> int: ...


class PlaceLike(Protocol):
    """A building or grid: it belongs to one community."""

    @property
    def pk(self) -> Any: ...

    @property
    def community_id(self) -> int: ...


USERNAME_MAX = 150
NOT_YOURS = ("无权管理此账号", "you may not manage this account")
# Roles whose account lives in a community and may work in further ones (``User.helps``).
HELPING_ROLES = frozenset({Role.SECRETARY, Role.SOCIAL_WORKER, Role.PROPERTY_MANAGER})


def _subdistrict_of(user: User) -> int | None:
    """The subdistrict of the user's community (the officer's scope over its secretaries)."""
    community = user.community if user.community_id is not None else None
    return getattr(community, "subdistrict_id", None)


def account_create(
    *,
    actor: User | None,
    username: str,
    role: Role | str,
    community: CommunityLike,
    display_name: str = "",
    phone: str = "",
    buildings: Iterable[PlaceLike] = (),
    grids: Iterable[PlaceLike] = (),
) -> tuple[User, bool]:
    """Create a staff, leader, property-management or owners'-committee account of ``community``.

    It has no password: its owner signs in the first time with a one-time link (``signin_link_create``),
    so no password is ever passed by hand; an owners' committee entry is a contact and never signs in.
    Idempotent on the user name: the same account asked again is returned unchanged (``created``
    False); a user name already used for someone else is refused. ``actor`` None is the operator."""
    role = Role(role)
    username = username.strip()
    if not username or len(username) > USERNAME_MAX or any(ch.isspace() for ch in username):
        raise AccountError("用户名不能为空，且不能含空格", "the user name must be one word, without spaces")
    if actor is not None and not can_create_account(
        actor, role, community_id=community.pk, subdistrict_id=community.subdistrict_id
    ):
        raise AccountError("无权在此居民区建立此类账号", "you may not create this kind of account in this community")
    if role not in SECRETARY_MANAGES | OFFICER_MANAGES:
        raise AccountError("此类账号不在此建立", "accounts of this kind are not created here")
    places = list(buildings) + list(grids)
    if any(place.community_id != community.pk for place in places):
        raise AccountError("楼栋或网格不属于此居民区", "a building or grid is not in this community")
    with transaction.atomic(durable=True):
        existing = User.objects.select_for_update().filter(username=username).first()
        if existing is not None:
            if existing.role == role and existing.community_id == community.pk:
                return existing, False
            raise AccountError("此用户名已被使用", "this user name is already taken")
        user = User(
            username=username,
            role=role,
            display_name=display_name.strip()[:64],
            phone=phone.strip()[:20],
            community_id=community.pk,
        )
        user.set_unusable_password()
        user.save()
        user.buildings.set([b.pk for b in buildings])
        user.grids.set([g.pk for g in grids])
        audit_record(
            actor=actor,
            action=AuditAction.USER_CREATE,
            target_type="user",
            target_id=user.pk,
            community_id=community.pk,
            detail={"role": role.value, "username": masked(username)},
        )
    return user, True


def _account_for_change(actor: User | None, target: User) -> User:
    locked = User.objects.select_for_update().get(pk=target.pk)
    if actor is not None and not can_manage_account(actor, locked, subdistrict_id=_subdistrict_of(locked)):
        raise AccountError(*NOT_YOURS)
    if actor is None and locked.is_superuser:
        raise AccountError(*NOT_YOURS)
    return locked


def account_disable(*, actor: User | None, target: User) -> User:
    """Disable an account: it is signed out at once (its session no longer loads), its unused
    sign-in links end, and any deputyship it holds ends. Disabling a disabled account changes nothing."""
    now = timezone.now()
    with transaction.atomic(durable=True):
        locked = _account_for_change(actor, target)
        if not locked.is_active:
            return locked
        locked.is_active = False
        locked.save(update_fields=["is_active"])
        SignInLink.objects.filter(user=locked, used_at__isnull=True, expires_at__gt=now).update(expires_at=now)
        ended = (
            Deputy.objects.filter(deputy=locked, revoked_at__isnull=True)
            .filter(Q(ends_at__isnull=True) | Q(ends_at__gt=now))
            .update(revoked_at=now)
        )
        _extra_scope_refresh(locked)
        audit_record(
            actor=actor,
            action=AuditAction.ACCOUNT_DISABLE,
            target_type="user",
            target_id=locked.pk,
            community_id=locked.community_id,
            detail={"role": locked.role, "deputyships_ended": ended},
        )
    reach_forget(target, locked)
    target.is_active = False
    target.extra_scope = locked.extra_scope
    return locked


def account_enable(*, actor: User | None, target: User) -> User:
    """Enable a disabled account again (its password, if it had one, works again; or make it a
    sign-in link). Enabling an active account changes nothing."""
    with transaction.atomic(durable=True):
        locked = _account_for_change(actor, target)
        if locked.is_active:
            return locked
        locked.is_active = True
        locked.save(update_fields=["is_active"])
        audit_record(
            actor=actor,
            action=AuditAction.ACCOUNT_ENABLE,
            target_type="user",
            target_id=locked.pk,
            community_id=locked.community_id,
            detail={"role": locked.role},
        )
    target.is_active = True
    return locked


def _extra_scope_refresh(user: User) -> None:
    """Keep ``User.extra_scope`` true exactly while the user helps a further community or holds a
    deputyship that has not ended (inside the caller's transaction)."""
    now = timezone.now()
    wanted = (
        user.helps.exists()
        or Deputy.objects.filter(deputy=user, revoked_at__isnull=True)
        .filter(Q(ends_at__isnull=True) | Q(ends_at__gt=now))
        .exists()
    )
    if user.extra_scope != wanted:
        User.objects.filter(pk=user.pk).update(extra_scope=wanted)
        user.extra_scope = wanted


def _may_assign_helper(actor: User | None, community: CommunityLike) -> bool:
    if actor is None:
        return True
    if is_secretary_of(actor, community.pk):
        return True
    return is_officer(actor) and actor.subdistrict_id == community.subdistrict_id


def account_community_add(*, actor: User | None, target: User, community: CommunityLike) -> User:
    """Let a deployed cadre or roving secretary work in a further community with the same role: its
    secretary (or the subdistrict's officer) adds them. Every scope filter then counts it.
    Idempotent: a community they already work in changes nothing."""
    if target.role not in HELPING_ROLES or not target.is_active:
        raise AccountError(
            "只有书记、社工或物业账号可以协助多个居民区",
            "only secretaries, social workers and property management help several communities",
        )
    if not _may_assign_helper(actor, community):
        raise AccountError("无权为此居民区添加协助人员", "you may not add helpers to this community")
    return _helps_change(actor=actor, target=target, community=community, add=True)


def account_community_remove(*, actor: User | None, target: User, community: CommunityLike) -> User:
    """End a cadre's help in a further community (never their own). Idempotent."""
    if not _may_assign_helper(actor, community):
        raise AccountError("无权为此居民区移除协助人员", "you may not remove helpers of this community")
    return _helps_change(actor=actor, target=target, community=community, add=False)


def _helps_change(*, actor: User | None, target: User, community: CommunityLike, add: bool) -> User:
    """Add or end the cadre's help in ``community`` (audited; a change already made is a no-op)."""
    with transaction.atomic(durable=True):
        locked = User.objects.select_for_update().get(pk=target.pk)
        helping = locked.helps.filter(pk=community.pk).exists()
        if (add and (helping or locked.community_id == community.pk)) or (not add and not helping):
            return locked
        if add:
            locked.helps.add(community.pk)
        else:
            locked.helps.remove(community.pk)
        _extra_scope_refresh(locked)
        audit_record(
            actor=actor,
            action=AuditAction.ACCOUNT_COMMUNITY_ADD if add else AuditAction.ACCOUNT_COMMUNITY_REMOVE,
            target_type="user",
            target_id=locked.pk,
            community_id=community.pk,
            detail={"role": locked.role, "home": locked.community_id},
        )
    reach_forget(target, locked)
    target.extra_scope = locked.extra_scope
    return locked


def deputy_name(
    *,
    actor: User | None,
    community: CommunityLike,
    deputy: User,
    starts_at: dt.datetime | None = None,
    ends_at: dt.datetime | None = None,
) -> tuple[Deputy, bool]:
    """Hand the secretary's duties in ``community`` to ``deputy`` (a colleague of its staff) from
    ``starts_at`` (now) until ``ends_at`` (or until revoked). The secretary keeps her own access.
    One deputy at a time: naming another ends the earlier one. The same deputyship asked again
    returns the existing one (``created`` False)."""
    now = timezone.now()
    starts_at = starts_at or now
    if actor is not None and not can_name_deputy(actor, community.pk):
        raise AccountError("只有本居民区书记可以指定代理书记", "only the community's secretary names a deputy")
    if ends_at is not None and ends_at <= max(starts_at, now):
        raise AccountError("结束时间须晚于开始时间和现在", "the end must be after the start and after now")
    if (
        not deputy.is_active
        or deputy.role not in DEPUTY_ROLES
        or not member_of(deputy, community.pk)
        or (actor is not None and deputy.pk == actor.pk)
    ):
        raise AccountError(
            "代理书记须为本居民区的其他在岗工作人员", "the deputy must be another active staff member of the community"
        )
    with transaction.atomic(durable=True):
        secretary = actor if actor is not None and actor.role == Role.SECRETARY else None
        if secretary is None:
            secretary = (
                User.objects.filter(role=Role.SECRETARY, community_id=community.pk, is_active=True)
                .order_by("pk")
                .first()
            )
        if secretary is None:
            raise AccountError("此居民区没有书记账号", "this community has no secretary account")
        current = list(
            Deputy.objects.select_for_update()
            .filter(community_id=community.pk, revoked_at__isnull=True)
            .filter(Q(ends_at__isnull=True) | Q(ends_at__gt=now))
        )
        for held in current:
            if held.deputy_id == deputy.pk and held.starts_at == starts_at and held.ends_at == ends_at:
                return held, False
        ended = [held.pk for held in current]
        Deputy.objects.filter(pk__in=ended).update(revoked_at=now)
        for earlier in User.objects.filter(pk__in=[held.deputy_id for held in current]):
            _extra_scope_refresh(earlier)
        made = Deputy.objects.create(
            community_id=community.pk,
            secretary=secretary,
            deputy=deputy,
            starts_at=starts_at,
            ends_at=ends_at,
            created_by=actor,
        )
        _extra_scope_refresh(deputy)
        audit_record(
            actor=actor,
            action=AuditAction.DEPUTY_NAME,
            target_type="user",
            target_id=deputy.pk,
            community_id=community.pk,
            detail={
                "deputy": made.pk,
                "secretary": secretary.pk,
                "from": starts_at.isoformat(),
                "until": ends_at.isoformat() if ends_at else None,
                "ended": ended,
            },
        )
    reach_forget(deputy)
    return made, True


def deputy_revoke(*, actor: User | None, deputy_id: int) -> Deputy:
    """End a deputyship now (the secretary is back). Ending an ended one changes nothing."""
    now = timezone.now()
    with transaction.atomic(durable=True):
        held = Deputy.objects.select_for_update().filter(pk=deputy_id).first()
        if held is None:
            raise AccountError("没有这项代理", "no such deputyship")
        if actor is not None and not can_name_deputy(actor, held.community_id):
            raise AccountError("只有本居民区书记可以结束代理", "only the community's secretary ends a deputyship")
        if held.revoked_at is not None or (held.ends_at is not None and held.ends_at <= now):
            return held
        held.revoked_at = now
        held.save(update_fields=["revoked_at"])
        _extra_scope_refresh(held.deputy)
        audit_record(
            actor=actor,
            action=AuditAction.DEPUTY_REVOKE,
            target_type="user",
            target_id=held.deputy_id,
            community_id=held.community_id,
            detail={"deputy": held.pk},
        )
    return held
