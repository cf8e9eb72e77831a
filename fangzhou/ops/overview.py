"""The way from the community overview to the page of the end of the emergency.

Registered in ``OpsConfig.ready()`` through ``registry.hooks`` (the registry knows no ops), placed
last: the committee looks for it when the emergency is over, not every morning. It reads nothing
(the overview's statements are pinned, ``registry/tests/test_scope.py``): the page tells the state.
"""

from __future__ import annotations

from fangzhou.accounts.models import User
from fangzhou.accounts.permissions import can_manage_community
from fangzhou.registry.hooks import OverviewPanel
from fangzhou.registry.models import Community


def emergency_overview_panel(user: User, community: Community) -> OverviewPanel | None:
    """For the community's committee (its managers): a line and the link."""
    if not can_manage_community(user, community.pk):
        return None
    return OverviewPanel("ops/_overview_emergency.html", {"community": community}, order=90)
