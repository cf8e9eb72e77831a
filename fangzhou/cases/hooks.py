"""Places where higher apps add to the cases app's pages without the cases app knowing them.

A resident's page (the timeline) offers the next step that apps above know about: the testing app's
"confirm the case" for a resident on its re-test list. Each such app registers a provider in its
``AppConfig.ready()``; the page renders the actions in order.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fangzhou.accounts.models import User
from fangzhou.registry.models import Resident


@dataclass(frozen=True)
class ResidentAction:
    """One block on a resident's page: a template and its context, placed by ``order``."""

    template: str
    context: dict[str, Any] = field(default_factory=dict)
    order: int = 100


ResidentActionProvider = Callable[[User, Resident], ResidentAction | None]

_resident_actions: list[ResidentActionProvider] = []


def resident_action_register(provider: ResidentActionProvider) -> None:
    """Add a provider (idempotent: ``ready()`` may run more than once in tests)."""
    if provider not in _resident_actions:
        _resident_actions.append(provider)


def resident_actions(user: User, resident: Resident) -> list[ResidentAction]:
    """The actions this user is offered on this resident's page, in order."""
    actions = [action for provider in _resident_actions if (action := provider(user, resident)) is not None]
    return sorted(actions, key=lambda action: action.order)
