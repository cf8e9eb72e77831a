"""The demo's second stage: a day of operations on top of the generated registry.

``demo_seed`` (registry) makes the place and its people; this adds, for the first community,
what a committee would have after a week of lockdown: roads and gates on the site plan, a mass
testing round with a positive tube and its re-tests, a confirmed case and the zones it causes,
antigen reports, volunteers with shifts and work orders, a government distribution half
delivered, special-care schedules and medicine requests. Each step goes through the apps'
own services and is skipped when it has already been done, so running the demo twice changes
nothing.
"""

from __future__ import annotations

from typing import TextIO

from fangzhou.accounts.models import Role, User
from fangzhou.lib.db import analyze
from fangzhou.registry.models import Community
from fangzhou.registry.services import building_tokens_ensure


def demo_operations(*, community: Community, stdout: TextIO | None = None) -> list[tuple[str, str, str, str]]:
    """Seed the operations; returns extra demo accounts (username, role, password, scope)."""

    def say(text: str) -> None:
        if stdout is not None:
            print(text, file=stdout, flush=True)

    secretary = User.objects.filter(community=community, role=Role.SECRETARY).first()
    building_tokens_ensure(community=community)

    from fangzhou.zones.demo import zones_demo_site

    roads = zones_demo_site(community, actor=secretary)
    say(f"{community.code}: site plan roads and gates ({roads})")

    from fangzhou.testing.models import Round

    if not Round.objects.filter(community=community, note="demo").exists():
        from fangzhou.testing.demo import demo_testing_seed

        result = demo_testing_seed(community=community, actor=secretary)
        say(f"{community.code}: testing round with {result.tubes} tubes, positive {result.positive_tubes}")
    else:
        say(f"{community.code}: testing round already there")

    from fangzhou.cases.demo import cases_demo_transfers

    batch = cases_demo_transfers(community=community, actor=secretary)
    say(f"{community.code}: isolation sites and a transfer batch of {batch}")

    from fangzhou.surveys.models import Survey
    from fangzhou.surveys.services import survey_standard, survey_status_set

    if not Survey.objects.filter(community=community).exists():
        survey = survey_standard(community=community, actor=secretary)
        survey_status_set(survey_id=survey.pk, status="open", actor=secretary)
        say(f"{community.code}: the standard needs survey, open")

    from fangzhou.volunteers.demo import volunteers_demo

    volunteers = volunteers_demo(community)
    say(
        f"{community.code}: {volunteers.volunteers} volunteers ({volunteers.approved} approved), "
        f"{volunteers.orders} open work orders, {volunteers.requests} residents' requests"
    )

    from fangzhou.care.demo import care_demo_seed

    care = care_demo_seed(community=community)
    say(
        f"{community.code}: distribution of {care.deliveries} doors ({care.delivered} delivered), "
        f"{care.profiles} special-care residents, {care.medicine_requests} medicine requests"
    )
    # Tens of thousands of rows were just written: fresh planner statistics for the whole database
    # (PostgreSQL; a server may run with autovacuum off).
    if analyze():
        say("planner statistics refreshed (ANALYZE)")
    return [(u, str(r), p, s) for u, r, p, s in volunteers.accounts]
