"""Writes for accounts: creating staff users (audit rows are written by ``fangzhou.accounts.audit``)."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction
from django.db.models import Model

from fangzhou.accounts.audit import AuditAction, audit_record, masked
from fangzhou.accounts.models import Role, User


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
