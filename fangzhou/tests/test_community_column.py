"""Every high-volume row (samples, antigen submissions and reports, deliveries) carries its community.

Written through the main write paths in two communities, each row's ``community_id`` must be the
community of its household's building (the partitioning key and the scoped reads rely on it)."""

from __future__ import annotations

import datetime as dt

from django.db.models import F, QuerySet
from django.utils import timezone

from fangzhou.registry.models import Household, Resident
from fangzhou.registry.tests.factories import World
from fangzhou.supplies import services as supplies
from fangzhou.supplies.models import Delivery
from fangzhou.testing.models import AntigenReport, AntigenResult, AntigenSubmission, Round, Sample, TubeKind
from fangzhou.testing.services import (
    antigen_report_on_behalf,
    antigen_report_submit,
    round_create,
    sample_take,
    samples_import,
)


def _check(rows: QuerySet[Sample] | QuerySet[AntigenReport] | QuerySet[Delivery], path: str, world: World) -> None:
    """Rows in both communities, and none whose community differs from its building's."""
    assert set(rows.values_list("community_id", flat=True)) == {world.community.pk, world.other.pk}
    assert not rows.exclude(community_id=F(path)).exists()


def _round(world: World, *, other: bool = False) -> Round:
    return round_create(
        community=world.other if other else world.community, date=timezone.localdate(), pool_size=10, actor=None
    )


def test_samples_carry_their_community(world: World) -> None:
    zhao = world.resident("赵敏")
    # An antigen positive puts 张伟 on the re-test list: his next sample is a single tube.
    zhang = world.resident("张伟")
    antigen_report_submit(
        household=zhang.household,
        day=timezone.localdate(),
        results={zhang.pk: AntigenResult.POSITIVE},
        client_id="community-col-1",
    )
    mine, theirs = _round(world), _round(world, other=True)
    desk = sample_take(round=mine, residents=[zhang, world.resident("李娜")], actor=None, station="desk-1")
    assert any(s.kind == TubeKind.SINGLE for s in desk.samples)
    sample_take(round=mine, residents=[world.resident("刘洋")], actor=None, station="door:1", door_to_door=True)
    sample_take(round=theirs, residents=[zhao], actor=None, station="desk-1")
    imported = samples_import(
        round=mine,
        filename="city.json",
        actor=None,
        rows=[{"tube": "C0001", "id_number": world.resident("王秀英").id_number, "name": "王秀英"}],
    )
    assert imported.created == 1
    _check(Sample.objects.all(), "resident__household__building__community_id", world)
    assert Sample.objects.filter(community=world.community).count() == 4


def test_antigen_rows_carry_their_community(world: World) -> None:
    today = timezone.localdate()
    zhao = world.resident("赵敏")
    household = Household.objects.get(residents__name="王秀英")
    antigen_report_submit(
        household=zhao.household, day=today, results={zhao.pk: AntigenResult.NEGATIVE}, client_id="community-col-2"
    )
    members = {r.pk: AntigenResult.NEGATIVE for r in Resident.objects.filter(household=household)}
    antigen_report_on_behalf(
        household=household,
        day=today,
        results=members,
        client_id="community-col-3",
        actor=world.secretary,
        tapped_at=timezone.now() - dt.timedelta(minutes=1),
    )
    _check(AntigenReport.objects.all(), "household__building__community_id", world)
    submissions = AntigenSubmission.objects.all()
    assert set(submissions.values_list("community_id", flat=True)) == {world.community.pk, world.other.pk}
    assert not submissions.exclude(community_id=F("building__community_id")).exists()
    assert not submissions.exclude(community_id=F("household__building__community_id")).exists()


def test_deliveries_carry_their_community(world: World) -> None:
    on = dt.date(2022, 4, 20)
    for community in (world.community, world.other):
        dist = supplies.distribution_create(
            community=community, name="政府包", kind="government", on=on, package={"大米": 1}, actor=None
        )
        supplies.distribution_allocate(distribution=dist, actor=None)
    group = supplies.distribution_create(community=world.other, name="团购", kind="group_purchase", on=on, actor=None)
    supplies.group_order_set(
        distribution=group, household=world.resident("赵敏").household, items={"鸡蛋": 2}, actor=None
    )
    _check(Delivery.objects.all(), "household__building__community_id", world)
    assert not Delivery.objects.exclude(community_id=F("distribution__community_id")).exists()
    assert Delivery.objects.filter(community=world.other).count() == 2
