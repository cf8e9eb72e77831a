"""The city view as a federation: this instance pulls the counts-only daily table of each peer
(``settings.FANGZHOU_FEDERATION_PEERS``: name, URL, a ``reports:read`` key of that instance) over
its API, ``GET /api/reports/subdistrict?day=…``, and shows the rows below its own.

Only counts travel (the endpoint serves nothing personal); the peer's key is the operator's secret,
read from the environment like the others. A peer that does not answer keeps its last table, marked
with the failure."""

from __future__ import annotations

import datetime as dt
import json
import logging
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.utils import timezone

from fangzhou.reports.models import FederatedReport

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Peer:
    name: str
    url: str
    token: str


def peers() -> list[Peer]:
    return [Peer(p["name"], p["url"].rstrip("/"), p["token"]) for p in settings.FANGZHOU_FEDERATION_PEERS]


def _fetch(peer: Peer, day: dt.date) -> list[dict[str, Any]]:
    request = urllib.request.Request(  # noqa: S310 - the operator's configured https URL
        f"{peer.url}/api/reports/subdistrict?day={day.isoformat()}",
        headers={"Authorization": f"Bearer {peer.token}", "Accept": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=settings.FANGZHOU_FEDERATION_TIMEOUT_S) as answer:  # noqa: S310
        body = json.loads(answer.read(5 * 1024 * 1024))
    communities = body.get("communities")
    if not isinstance(communities, list):
        raise ValueError("no communities in the answer")
    return [_counts_only(c) for c in communities if isinstance(c, dict)]


def _counts_only(row: dict[str, Any]) -> dict[str, Any]:
    """The fields the table shows, nothing else a peer might send."""
    cases, antigen, zone = row.get("cases") or {}, row.get("antigen") or {}, row.get("zone") or {}
    return {
        "code": str(row.get("code", ""))[:32],
        "name": str(row.get("name", ""))[:64],
        "subdistrict": str(row.get("subdistrict", ""))[:64],
        "residents": int(row.get("residents") or 0),
        "cases": {"new": int(cases.get("new") or 0), "total": int(cases.get("total") or 0)},
        "antigen": {"reported": int(antigen.get("reported") or 0), "residents": int(antigen.get("residents") or 0)},
        "zone": {"label_zh": str(zone.get("label_zh", ""))[:32], "label_en": str(zone.get("label_en", ""))[:32]},
    }


def federation_pull(*, day: dt.date | None = None) -> dict[str, str]:
    """Pull every peer's table for ``day`` (today); each peer's outcome, ``ok`` or its failure."""
    day = day or timezone.localdate()
    outcomes: dict[str, str] = {}
    for peer in peers():
        try:
            rows = _fetch(peer, day)
        except urllib.error.HTTPError as exc:
            outcomes[peer.name] = f"http {exc.code}"
        except (OSError, ValueError, TypeError, AttributeError) as exc:
            outcomes[peer.name] = type(exc).__name__
        else:
            FederatedReport.objects.update_or_create(
                peer=peer.name, day=day, defaults={"communities": rows, "fetched_at": timezone.now(), "error": ""}
            )
            outcomes[peer.name] = "ok"
            continue
        log.warning("federated peer %s: %s", peer.name, outcomes[peer.name])
        FederatedReport.objects.filter(peer=peer.name, day=day).update(error=outcomes[peer.name])
    return outcomes


def federated_tables(day: dt.date) -> list[FederatedReport]:
    """The peers' tables of ``day`` for the subdistrict page (one query)."""
    names = [p.name for p in peers()]
    return list(FederatedReport.objects.filter(day=day, peer__in=names).order_by("peer")) if names else []
