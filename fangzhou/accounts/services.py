"""Writes for accounts: creating staff users and recording sensitive actions."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import transaction
from django.db.models import Model

from fangzhou.accounts.models import AuditLog, Role, User


def audit_record(
    *,
    actor: User | None,
    action: str,
    target_type: str,
    target_id: str | int,
    community: Model | None = None,
    community_id: int | None = None,
    detail: dict[str, Any] | None = None,
) -> AuditLog:
    """Write one audit row: who did what to which record. Never pass an unmasked sensitive value."""
    return AuditLog.objects.create(
        actor=actor,
        action=action,
        target_type=target_type,
        target_id=str(target_id),
        community_id=community.pk if community is not None else community_id,
        detail=detail or {},
    )


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
        action="user.create" if created else "user.update",
        target_type="user",
        target_id=user.pk,
        community=community,
        detail={"role": role, "username": username},
    )
    return user


user_upsert = transaction.atomic(durable=True)(user_upsert_in_transaction)
