"""The zones' panel on the community overview: the site plan coloured by zone and the counts.

Registered in ``ZonesConfig.ready()`` through ``registry.hooks`` (the registry knows no zones),
placed first: what needs action today starts with which buildings are sealed.
"""

from __future__ import annotations

from django.utils import timezone, translation

from fangzhou.accounts.models import User
from fangzhou.accounts.permissions import COMMITTEE
from fangzhou.registry.hooks import OverviewPanel
from fangzhou.registry.models import Community
from fangzhou.zones.plan import zone_plan
from fangzhou.zones.selectors import visible_building_ids, zone_report


def zone_overview_panel(user: User, community: Community) -> OverviewPanel | None:
    """The zone plan and, per status of the community's rule set, how many buildings are in it."""
    lang = "en" if (translation.get_language() or "zh").startswith("en") else "zh"
    on = timezone.localdate()
    report = zone_report(community, on)
    # Every building is drawn with its zone. The committee sees every building's case count and
    # may open every building; others only those of the buildings they see (no link to a 404).
    mine = None if user.role in COMMITTEE else visible_building_ids(user, community)
    plan = zone_plan(report, counts_for=mine, links_for=mine, lang=lang)
    per_status = report.buildings_by_status()
    counts = [
        {"status": s, "label": report.label(s, lang), "colour": report.colour(s), "buildings": per_status.get(s, 0)}
        for s in report.rules.statuses
    ]
    context = {"plan": plan, "counts": counts, "community": community, "on": on}
    return OverviewPanel("zones/_overview_plan.html", context, order=5)
