"""The residents and households the database keeps per community (CommunityCount, kept by the
triggers of migration 0010) equal a fresh COUNT after every kind of write: a resident created,
moved to another household or community, deleted; a household created, moved, deleted; a
building moved; a roster import (COPY on PostgreSQL); the demo seed (raw rows); a community
deleted. The repair command rebuilds them."""

from __future__ import annotations

import datetime as dt
import io
import json
from contextlib import redirect_stdout

import pytest
from django.db import connection, transaction
from django.db.models import F

from fangzhou.cli import main as cli_main
from fangzhou.registry.demo import demo_seed
from fangzhou.registry.models import (
    Building,
    Community,
    CommunityCount,
    Compound,
    Household,
    Resident,
    ResidentTransfer,
)
from fangzhou.registry.roster.importer import roster_import
from fangzhou.registry.services import (
    community_counts_check,
    community_counts_repair,
    community_create,
    resident_transfer_decide,
)
from fangzhou.registry.tests.factories import World, make_id, roster_sheet
from fangzhou.reports.selectors import daily_report


def assert_counts_fresh() -> None:
    """Every community's kept counts are a fresh COUNT of its residents and of its buildings' households."""
    for c in Community.objects.all():
        kept = CommunityCount.objects.filter(community=c).first()
        have = (kept.residents, kept.households) if kept else (0, 0)
        fresh = (Resident.objects.filter(community=c).count(), Household.objects.filter(building__community=c).count())
        assert have == fresh, (c.code, have, fresh)
    assert community_counts_check() == []
    # The figures count a community's residents by their own community: always their building's.
    assert not Resident.objects.exclude(community_id=F("household__building__community_id")).exists()
    # No row is left for a community that is gone.
    assert not CommunityCount.objects.exclude(community_id__in=Community.objects.values("pk")).exists()


@pytest.mark.django_db
def test_the_counts_follow_every_kind_of_write(world: World) -> None:
    assert_counts_fresh()  # the world's two roster imports
    assert CommunityCount.objects.get(community=world.community).residents == 4

    # A resident created through the ORM, in a new household.
    home = Household.objects.create(building=world.b5, room="202")
    new = Resident.objects.create(community=world.community, household=home, name="新人")
    assert_counts_fresh()

    # Moved to another household of the same community, then to a household of another community.
    new.household = Household.objects.get(building=world.b3, room="101")
    new.save()
    assert_counts_fresh()
    Resident.objects.filter(pk=new.pk).update(
        community=world.other, household=Household.objects.get(building=world.other_building)
    )
    assert_counts_fresh()

    # A household moved to a building of the other community takes its residents' household with it.
    Household.objects.filter(pk=home.pk).update(building=world.other_building)
    assert_counts_fresh()

    # A building moved to the other community with its households, and its residents with it.
    with transaction.atomic():
        Building.objects.filter(pk=world.b5.pk).update(community=world.other)
        Resident.objects.filter(household__building=world.b5).update(community=world.other)
    assert_counts_fresh()
    with transaction.atomic():
        Building.objects.filter(pk=world.b5.pk).update(community=world.community)
        Resident.objects.filter(household__building=world.b5).update(community=world.community)
    assert_counts_fresh()

    # Deleted: a resident, then an empty household, then a building with its households.
    Resident.objects.filter(pk=new.pk).delete()
    assert_counts_fresh()
    Household.objects.filter(pk=home.pk).delete()
    assert_counts_fresh()
    empty = Building.objects.create(community=world.community, compound=world.b3.compound, number="9")
    Household.objects.bulk_create([Household(building=empty, room=str(r)) for r in (101, 102, 103)])
    assert_counts_fresh()
    empty.delete()
    assert_counts_fresh()


@pytest.mark.django_db
def test_a_roster_import_and_a_transfer_keep_the_counts(world: World) -> None:
    born = dt.date(1990, 3, 4)
    rows = [
        [
            "阳光小区",
            "7号楼",
            str(100 + i // 3),
            "居民" + "甲乙丙丁戊己庚辛壬癸"[i % 10] + "一二三"[i // 10],
            make_id("310104", born, 100 + i, i % 2 == 0),
            "",
            "",
            "",
        ]
        for i in range(30)
    ]
    roster_import(community=world.community, actor=None, sheet=roster_sheet(rows), filename="more.xlsx")
    assert_counts_fresh()
    assert CommunityCount.objects.get(community=world.community).residents == 34

    # A roster of the other community naming 张伟: the subdistrict approves the move.
    zhang = world.resident("张伟")
    sheet = roster_sheet([["河畔小区", "2号楼", "501", "张伟", zhang.id_number, "13800001234", "", ""]])
    roster_import(community=world.other, actor=world.outsider, sheet=sheet, filename="o2.xlsx")
    transfer = ResidentTransfer.objects.get()
    officer = world.officer
    officer.subdistrict = world.community.subdistrict
    resident_transfer_decide(transfer_id=transfer.pk, actor=officer, approve=True)
    assert Resident.objects.get(pk=zhang.pk).community_id == world.other.pk
    assert_counts_fresh()

    # The daily report reads the kept counts.
    report = daily_report(world.secretary, world.community, dt.date.today())
    assert (report.residents, report.households) == (
        Resident.objects.filter(community=world.community).count(),
        Household.objects.filter(building__community=world.community).count(),
    )
    assert report.antigen.residents == report.residents


@pytest.mark.django_db
def test_the_demo_seed_and_a_community_deleted(settings) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    demo_seed(size="small", stdout=io.StringIO())
    assert_counts_fresh()
    assert CommunityCount.objects.get().residents == Resident.objects.count() > 0
    # A community deleted (one without accounts: those protect theirs), its rows with it.
    gone = community_create(code="GONE", name="将删除居民区", subdistrict_name="测试街道")
    compound = Compound.objects.create(community=gone, name="临时小区")
    building = Building.objects.create(community=gone, compound=compound, number="1")
    home = Household.objects.create(building=building, room="101")
    Resident.objects.create(community=gone, household=home, name="临时")
    assert_counts_fresh()
    assert CommunityCount.objects.get(community=gone).households == 1
    Resident.objects.filter(community=gone).delete()
    gone.delete()
    assert_counts_fresh()
    assert not CommunityCount.objects.filter(community_id=gone.pk).exists()


@pytest.mark.django_db
def test_repair_rebuilds_what_differs_and_the_command_says_so(world: World) -> None:
    CommunityCount.objects.filter(community=world.community).update(residents=99)
    CommunityCount.objects.filter(community=world.other).delete()
    differ = community_counts_check()
    assert {(m.code, m.kept_residents, m.residents) for m in differ} == {("T01", 99, 4), ("T02", None, 1)}

    out = io.StringIO()
    with redirect_stdout(out):
        assert cli_main(["roster", "counts", "--json"]) == 2  # they differ
    assert len(json.loads(out.getvalue())["differ"]) == 2

    out = io.StringIO()
    with redirect_stdout(out):
        assert cli_main(["roster", "counts", "--repair", "--json"]) == 0
    assert json.loads(out.getvalue())["repaired"] is True
    assert_counts_fresh()
    assert community_counts_repair() == []  # nothing differs any more
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:  # the triggers are there after a repair too
            cursor.execute("SELECT COUNT(*) FROM pg_trigger WHERE tgname LIKE 'registry_count_%'")
            assert cursor.fetchone()[0] == 8
