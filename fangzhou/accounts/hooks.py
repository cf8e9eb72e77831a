"""What the accounts pages need from the places above them, without importing the registry.

The accounts page lists the communities where the user manages accounts and a community's
buildings (to give a building leader theirs). The registry registers its answers in
``RegistryConfig.ready()``; accounts never imports it (docs/architecture.md, layers).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from django.db.models import Q


@dataclass(frozen=True)
class CommunityChoice:
    pk: int
    code: str
    name: str
    subdistrict_id: int


@dataclass(frozen=True)
class BuildingChoice:
    pk: int
    label: str  # with its compound: "华新一村 1号楼"
    community_id: int


class Places(Protocol):
    def communities(self, q: Q) -> list[CommunityChoice]:
        """The communities matching a filter on Community, in code order."""
        ...

    def buildings(self, community_id: int) -> list[BuildingChoice]:
        """A community's buildings, compound by compound."""
        ...


_places: list[Places] = []


def places_register(provider: Places) -> None:
    """Register the places provider (the registry's; idempotent)."""
    _places[:] = [provider]


def places() -> Places:
    if not _places:
        raise LookupError("no places provider registered (the registry registers it in ready())")
    return _places[0]
