"""Writes for accounts: creating staff users and recording sensitive actions."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import transaction

from fangzhou.accounts.models import AuditLog, Role, User
from fangzhou.registry.models import Building, Community, Grid, Resident, Subdistrict


def audit_record(
    *,
    actor: User | None,
    action: str,
    target_type: str,
    target_id: str | int,
    community: Community | None = None,
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


@transaction.atomic
def user_upsert(
    *,
    username: str,
    password: str,
    role: Role,
    display_name: str = "",
    subdistrict: Subdistrict | None = None,
    community: Community | None = None,
    grids: Iterable[Grid] = (),
    buildings: Iterable[Building] = (),
    actor: User | None = None,
) -> User:
    """Create or update a staff account with its role and place scope (idempotent on username)."""
    user, created = User.objects.get_or_create(username=username, defaults={"role": role})
    user.role = role
    user.display_name = display_name
    user.subdistrict = subdistrict
    user.community = community
    user.is_staff = role == Role.ADMIN
    user.is_superuser = role == Role.ADMIN
    user.set_password(password)
    user.save()
    user.grids.set(list(grids))
    user.buildings.set(list(buildings))
    audit_record(
        actor=actor,
        action="user.create" if created else "user.update",
        target_type="user",
        target_id=user.pk,
        community=community,
        detail={"role": role, "username": username},
    )
    return user


def resident_unmask(
    *, actor: User, resident: Resident, fields: Iterable[str] = ("id_number", "phone")
) -> dict[str, str]:
    """Reveal one resident's sensitive fields and write who did it to the audit log (not the values)."""
    names = [f for f in fields if f in {"id_number", "phone"}]
    audit_record(
        actor=actor,
        action="resident.unmask",
        target_type="resident",
        target_id=resident.pk,
        community_id=resident.community_id,
        detail={"fields": names},
    )
    return {name: getattr(resident, name) for name in names}
