"""Places where higher apps add to the registry's pages without the registry knowing them.

The community overview is the committee's first page; what needs action today comes from
apps above the registry (special care's at-risk list, later zones and testing). Each such app
registers a panel provider in its ``AppConfig.ready()``; the overview renders the panels in order.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fangzhou.accounts.models import User
from fangzhou.registry.models import Community, Resident


@dataclass(frozen=True)
class OverviewPanel:
    """One block on the community overview: a template and its context, placed by ``order``."""

    template: str
    context: dict[str, Any] = field(default_factory=dict)
    order: int = 100


OverviewPanelProvider = Callable[[User, Community], OverviewPanel | None]

_overview_panels: list[OverviewPanelProvider] = []


def overview_panel_register(provider: OverviewPanelProvider) -> None:
    """Add a provider (idempotent: ``ready()`` may run more than once in tests)."""
    if provider not in _overview_panels:
        _overview_panels.append(provider)


def overview_panels(user: User, community: Community) -> list[OverviewPanel]:
    """The panels this user sees on this community's overview, in order."""
    panels = [panel for provider in _overview_panels if (panel := provider(user, community)) is not None]
    return sorted(panels, key=lambda panel: panel.order)


# --- who may dial a resident's phone without seeing it ---------------------------------------
# Those who may reveal a phone (``permissions.can_unmask``) may dial it. An app above may let
# more people dial one resident: the work-order queue lets a volunteer dial the household of an
# order they hold. Each permit answers for one (user, resident); any True permits the call.

CallPermit = Callable[[User, Resident], bool]

_call_permits: list[CallPermit] = []


def call_permit_register(permit: CallPermit) -> None:
    """Add a permit (idempotent: ``ready()`` may run more than once in tests)."""
    if permit not in _call_permits:
        _call_permits.append(permit)


def call_permitted_by_hooks(user: User, resident: Resident) -> bool:
    return any(permit(user, resident) for permit in _call_permits)
