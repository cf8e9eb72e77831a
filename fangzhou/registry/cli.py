"""What the registry gives every app's subcommands: the community named on the command line."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fangzhou.lib.cli import CommandError

if TYPE_CHECKING:
    from fangzhou.registry.models import Community


def community_from_code(code: str) -> Community:
    # Imported here, not at the top: subcommands are registered before Django is set up.
    from fangzhou.registry.models import Community

    community = Community.objects.filter(code=code).first()
    if community is None:
        raise CommandError(f"社区 {code} 不存在 / community {code} does not exist (fangzhou community create)")
    return community
