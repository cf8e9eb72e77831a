"""What the work-order queue asks of the apps above it, without knowing them.

The queue knows orders, their group (a work-group code such as ``testing``) and their assignee.
Who belongs to which group, where a volunteer lives and whether a volunteer may do door-to-door
work now are the volunteers app's answers: it fills these hooks in its ``AppConfig.ready()``.
With nothing registered, nobody belongs to a group and every claim passes the checks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from fangzhou.accounts.models import User
from fangzhou.lib.errors import Refused

# (community id, group code)
GroupKey = tuple[int, str]


@dataclass(frozen=True)
class Membership:
    """The groups a user leads and belongs to, and where their home building stands on the plan."""

    led: frozenset[GroupKey] = frozenset()
    member: frozenset[GroupKey] = frozenset()  # approved members only
    home: tuple[float | None, float | None] = (None, None)


def _no_membership(user: User) -> Membership:
    return Membership()


@dataclass
class _Hooks:
    membership: Callable[[User], Membership] = _no_membership
    # Each check raises ``Refused`` (Chinese and English) when the user may not take door-to-door work now.
    claim_checks: list[Callable[[User], None]] = field(default_factory=list)


_hooks = _Hooks()


def membership_provider_register(provider: Callable[[User], Membership]) -> None:
    _hooks.membership = provider


def claim_check_register(check: Callable[[User], None]) -> None:
    """Add a check run inside the claim's transaction (idempotent)."""
    if check not in _hooks.claim_checks:
        _hooks.claim_checks.append(check)


def membership_of(user: User) -> Membership:
    return _hooks.membership(user)


def door_work_checks_run(user: User) -> None:
    """Run every registered check; the first that refuses raises."""
    for check in _hooks.claim_checks:
        check(user)


__all__ = [
    "GroupKey",
    "Membership",
    "Refused",
    "claim_check_register",
    "door_work_checks_run",
    "membership_of",
    "membership_provider_register",
]
