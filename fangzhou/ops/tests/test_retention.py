"""End of life for personal data: after the emergency ends plus N days, de-identified or deleted,
while the daily report's counts stay."""

from __future__ import annotations

import datetime as dt
import json
import os

import pytest
from django.core.files.base import ContentFile
from django.utils import timezone

from fangzhou.accounts.audit import AuditAction
from fangzhou.accounts.models import AuditLog
from fangzhou.cli import main
from fangzhou.ops.retention import emergency_end_set, retention_run
from fangzhou.registry.models import Resident
from fangzhou.registry.tests.factories import World
from fangzhou.reports.tests.helpers import busy_day
from fangzhou.reports.tests.test_report import api
from fangzhou.testing.models import AntigenSubmission

pytestmark = pytest.mark.django_db(transaction=True)

COUNTED = ("residents", "antigen", "cases", "round")


def _counts(world: World, day: dt.date) -> dict[str, object]:
    data = api(world, day)
    return {key: data[key] for key in COUNTED if key in data}


@pytest.fixture
def ended(world: World) -> dt.date:
    """A busy day, the emergency declared over that day, a photo of a kit among the reports."""
    busy = busy_day(world)
    submission = AntigenSubmission.objects.filter(household__building__community=world.community).first()
    assert submission is not None
    submission.photo.save("kit.jpg", ContentFile(b"\xff\xd8 a photo of a test kit"), save=True)
    emergency_end_set(community=world.community, ended_on=busy.today, actor=world.secretary)
    return busy.today


def _today(ended_on: dt.date, days: int) -> dt.date:
    return ended_on + dt.timedelta(days=days)


def test_nothing_goes_before_the_emergency_has_ended(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    busy_day(world)
    assert main(["retention", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert all(c["ended_on"] is None and c["kinds"] == {} for c in out["communities"])
    assert Resident.objects.exclude(phone="").exists()


def test_a_dry_run_prints_what_would_go_and_changes_nothing(world: World, ended: dt.date) -> None:
    before = list(Resident.objects.order_by("pk").values_list("name", "id_number", "phone"))
    [report] = retention_run(dry_run=True, community=world.community, today=_today(ended, 400))
    assert report.kinds["antigen_reports"]["rows"] == 2  # 张伟 and 李娜 reported
    assert report.kinds["pcr_samples"]["rows"] == 2
    assert report.kinds["cases"]["rows"] >= 1  # 刘洋
    assert report.kinds["photos"]["rows"] == 1
    assert report.kinds["audit"]["rows"] == AuditLog.objects.filter(community=world.community).count() > 0
    assert list(Resident.objects.order_by("pk").values_list("name", "id_number", "phone")) == before
    assert AntigenSubmission.objects.exclude(photo="").exclude(photo__isnull=True).count() == 1
    assert not AuditLog.objects.filter(action=AuditAction.RETENTION_RUN).exists()


def test_each_kind_waits_for_its_own_days(world: World, ended: dt.date) -> None:
    [report] = retention_run(dry_run=True, community=world.community, today=_today(ended, 10))
    assert report.kinds["photos"]["rows"] == 1  # 7 days
    assert report.kinds["antigen_reports"]["rows"] == 0  # 30 days
    assert report.kinds["antigen_reports"]["due_on"] == _today(ended, 30).isoformat()


def test_the_real_run_strips_the_people_keeps_the_counts_and_is_audited(world: World, ended: dt.date) -> None:
    counts = _counts(world, ended)
    zhang = Resident.objects.get(name="张伟")
    photo = AntigenSubmission.objects.exclude(photo="").get().photo
    path = photo.path
    [report] = retention_run(dry_run=False, community=world.community, today=_today(ended, 200))
    assert report.kinds["photos"]["rows"] == 1

    zhang.refresh_from_db()
    assert (zhang.name, zhang.id_number, zhang.phone, zhang.birth_date) == ("", "", "", None)
    assert zhang.household_id is not None  # the room and the counts stay
    assert not Resident.objects.filter(name__in=["张伟", "李娜", "刘洋"]).exists()
    assert Resident.objects.filter(name="王秀英").exists()  # no health data of hers: the registry keeps her
    assert not AntigenSubmission.objects.exclude(photo="").exclude(photo__isnull=True).exists()
    assert not os.path.exists(path)
    assert _counts(world, ended) == counts  # the daily report of that day is unchanged
    audit = AuditLog.objects.get(action=AuditAction.RETENTION_RUN)
    assert audit.community_id == world.community.pk and audit.detail["antigen_reports"] == 2
    other = Resident.objects.filter(community=world.other)
    assert other.exclude(name="").count() == other.count()  # another community's emergency goes on

    again = retention_run(dry_run=False, community=world.community, today=_today(ended, 200))[0]
    assert again.kinds["antigen_reports"]["rows"] == 0  # idempotent


def test_the_command_sets_the_end_and_prints_the_dry_run(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    busy_day(world)
    long_ago = (timezone.localdate() - dt.timedelta(days=400)).isoformat()
    assert main(["emergency", "end", "--community", "T01", "--on", long_ago]) == 0
    assert AuditLog.objects.filter(action=AuditAction.EMERGENCY_END, community=world.community).exists()
    capsys.readouterr()
    assert main(["retention", "--dry-run", "--community", "T01"]) == 0
    out = capsys.readouterr().out
    assert "would deidentify 2 row(s)" in out and f"emergency ended {long_ago}" in out
    assert Resident.objects.filter(name="张伟").exists()
    assert main(["emergency", "end", "--community", "T01", "--on", "last week"]) == 2
