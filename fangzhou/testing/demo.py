"""Demo data for testing, through the real services: a sampled round with lab results and re-tests,
and today's antigen reports. Called by the demo generator (``fangzhou demo``) after the roster."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass

from django.utils import timezone

from fangzhou.accounts.models import User
from fangzhou.registry.models import Building, Community, Resident
from fangzhou.registry.services import building_tokens_ensure
from fangzhou.testing.models import Round, Tube
from fangzhou.testing.pooling import Household, plan_pools
from fangzhou.testing.services import (
    antigen_report_submit,
    results_import,
    round_create,
    round_schedule,
    sample_take,
    samples_import,
    site_add,
    tube_close,
)


@dataclass
class DemoTesting:
    round: Round
    tubes: int
    positive_tubes: list[str]
    confirmed: list[str]
    antigen_households: int


def demo_testing_seed(
    *, community: Community, actor: User | None = None, day: dt.date | None = None, seed: int = 7
) -> DemoTesting:
    """A round on ``day`` (default yesterday): two sites, a schedule, 95 % of households sampled with
    household pooling, a lab file with one positive and one invalid tube, single-tube re-tests of the
    positive tube's members (the first one confirmed positive), and antigen reports for today from
    about 70 % of households (one positive). Safe to call once per community and day."""
    rng = random.Random(seed)
    day = day or timezone.localdate() - dt.timedelta(days=1)
    rnd = round_create(community=community, date=day, pool_size=10, actor=actor, note="demo")
    buildings = list(Building.objects.filter(community=community).exclude(x=None))
    xs = [b.x or 0.0 for b in buildings] or [0.0]
    ys = [b.y or 0.0 for b in buildings] or [0.0]
    site_add(
        round=rnd,
        name="北广场",
        desks=3,
        opens_at=dt.time(6, 30),
        closes_at=dt.time(11, 0),
        x=min(xs),
        y=min(ys),
        actor=actor,
    )
    site_add(
        round=rnd,
        name="南广场",
        desks=3,
        opens_at=dt.time(6, 30),
        closes_at=dt.time(11, 0),
        x=max(xs),
        y=max(ys),
        actor=actor,
    )
    round_schedule(round=rnd, actor=actor)
    sites = list(rnd.sites.all())
    households: dict[int, list[Resident]] = {}
    for r in (
        Resident.objects.filter(community=community, household__building__community=community)  # scoped join
        .select_related("household")
        .order_by("household__building_id", "household__room", "id")
    ):
        households.setdefault(r.household_id, []).append(r)
    # The round was sampled in the city's sampling app (as many communities did): tubes packed by
    # the pool planner with whole households together, then imported as the app's export file.
    present = [
        Household(id=str(hid), building_id=str(people[0].household.building_id), members=tuple(people))
        for hid, people in households.items()
        if rng.random() >= 0.05
    ]
    plan = plan_pools(present, 0.0, pool_sizes=(10,), default_pool_size=10)
    tz = timezone.get_current_timezone()
    lines_in = ["试管编码,证件号码,姓名,采样时间,采样点"]
    start = dt.datetime.combine(day, dt.time(7, 0), tzinfo=tz)
    for n, pooled in enumerate(plan.tubes):
        code = f"{community.code}{day:%m%d}{n + 1:05d}"
        site = sites[n % len(sites)]
        at = start + dt.timedelta(seconds=45 * n)
        for person in pooled:
            lines_in.append(f"{code},{person.id_number},{person.name},{at:%Y-%m-%d %H:%M},{site.name}")
    samples_import(round=rnd, data="\n".join(lines_in).encode(), filename="city-app-samples.csv", actor=actor)
    for tube in Tube.objects.filter(round=rnd, status=Tube.Status.OPEN):
        tube_close(tube=tube, actor=actor)
    codes = list(Tube.objects.filter(round=rnd).order_by("id").values_list("code", flat=True))
    positive = codes[len(codes) // 3] if codes else ""
    invalid = codes[2 * len(codes) // 3] if len(codes) > 2 else ""
    lines = ["试管编码,检测结果,ORF1ab Ct,N Ct,检测时间"]
    for code in codes:
        result = "阳性" if code == positive else "无效" if code == invalid else "阴性"
        ct = "27.5,29.1" if code == positive else ","
        lines.append(f"{code},{result},{ct},{day.isoformat()} 20:00")
    report = results_import(round=rnd, data="\n".join(lines).encode(), filename="demo-lab.csv", actor=actor)
    # Single-tube re-tests of the positive tube at the door; the first member is positive.
    members = list(Resident.objects.filter(test_samples__tube__code=positive)) if positive else []
    single_lines = ["试管编码,检测结果,检测时间"]
    for i, resident in enumerate(members):
        taken = sample_take(round=rnd, residents=[resident], actor=actor, station="door:demo", door_to_door=True)
        single_lines.append(
            f"{taken.tube.code},{'阳性' if i == 0 else '阴性'},{(day + dt.timedelta(days=1)).isoformat()}"
        )
    confirmed: list[str] = []
    if members:
        second = results_import(
            round=rnd, data="\n".join(single_lines).encode(), filename="demo-retest.csv", actor=actor
        )
        confirmed = second.confirmed_positive
    # Today's antigen reports.
    building_tokens_ensure(community=community)
    today = timezone.localdate()
    reported = 0
    first_positive = True
    for household_id, people in households.items():
        if rng.random() > 0.7:
            continue
        results = {}
        for person in people:
            value = "negative"
            if first_positive and rng.random() < 0.01:
                value, first_positive = "positive", False
            results[person.pk] = value
        antigen_report_submit(
            household=people[0].household, day=today, results=results, client_id=f"demo-{today:%Y%m%d}-{household_id}"
        )
        reported += 1
    return DemoTesting(rnd, len(codes), report.positive_tubes, confirmed, reported)
