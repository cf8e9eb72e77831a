"""Confirming a case is one step from the re-test list and the resident page (issue 10): a button
that opens one page with the result that justifies it, asks once, and opens the case."""

from __future__ import annotations

import pytest
from django.test import Client
from django.utils import timezone

from fangzhou.accounts.models import User
from fangzhou.cases.models import Case
from fangzhou.registry.tests.factories import World
from fangzhou.testing.models import Retest, Sample, TubeKind
from fangzhou.testing.services import TestingError, results_import, retest_case_confirm, retest_open, sample_take
from fangzhou.testing.tests.helpers import csv_bytes, sampled_round
from fangzhou.workorders.models import CloseReason, Status, WorkOrder

pytestmark = pytest.mark.django_db


def _client(user: User, language: str = "zh-hans") -> Client:
    client = Client()
    client.force_login(user)
    client.cookies["django_language"] = language
    return client


def _positive_tube(world: World) -> tuple[str, Retest]:
    rnd = sampled_round(world)
    zhang = world.resident("张伟")
    code = Sample.objects.get(resident=zhang, kind=TubeKind.POOLED).tube.code
    lab = csv_bytes([["试管编码", "检测结果", "ORF1ab Ct", "N Ct"], [code, "阳性", "27.5", "29.1"]])
    results_import(round=rnd, data=lab, filename="lab.csv", actor=world.secretary)
    return code, Retest.objects.get(resident=zhang)


def test_the_retest_list_confirms_a_case_in_one_step_with_its_evidence(world: World) -> None:
    code, retest = _positive_tube(world)
    client = _client(world.secretary)
    listing = client.get(f"/testing/c/{world.community.code}/").content.decode()
    link = f"/testing/retests/{retest.pk}/confirm/"
    assert link in listing and "确诊" in listing
    page = client.get(link).content.decode()
    # The page shows the result that justifies it, and asks once.
    assert "张伟" in page and "阳光小区 3号楼 101" in page and code in page and "阳性" in page and "27.5" in page
    assert "确认确诊" in page and not Case.objects.exists()
    answer = client.post(link, {"report_date": timezone.localdate().isoformat()})
    case = Case.objects.get(resident=retest.resident)
    assert answer.status_code == 302 and answer["Location"] == f"/cases/{case.pk}/"
    assert case.source == "pooled_pcr" and case.note == code and case.report_date == timezone.localdate()
    retest.refresh_from_db()
    assert retest.status == Retest.Status.CONFIRMED
    order = WorkOrder.objects.get(pk=retest.work_order_id)
    assert (order.status, order.close_reason) == (Status.CANCELLED, CloseReason.CASE_CONFIRMED)
    assert WorkOrder.objects.filter(kind="transfer", resident=retest.resident, status="open").count() == 1
    # A second tap (back button, double submit) is the same case, not a second one.
    client.post(link, {"report_date": timezone.localdate().isoformat()})
    assert Case.objects.count() == 1
    # The list no longer holds them.
    assert link not in client.get(f"/testing/c/{world.community.code}/").content.decode()


def test_the_resident_page_offers_the_same_step(world: World) -> None:
    wang = world.resident("王秀英")
    retest, _ = retest_open(resident=wang, reason=Retest.Reason.ANTIGEN, actor=None, key="t")
    client = _client(world.secretary)
    page = client.get(f"/cases/r/{wang.pk}/").content.decode()
    assert f"/testing/retests/{retest.pk}/confirm/" in page and "待复查" in page
    english = _client(world.secretary, "en").get(f"/testing/retests/{retest.pk}/confirm/").content.decode()
    assert "Positive antigen self-test" in english and "Yes, confirm the case" in english
    assert "Antigen, then PCR" in english
    client.post(f"/testing/retests/{retest.pk}/confirm/", {"report_date": timezone.localdate().isoformat()})
    assert Case.objects.get(resident=wang).source == "antigen_pcr"
    assert "/testing/retests/" not in client.get(f"/cases/r/{wang.pk}/").content.decode()


def test_only_the_committee_confirms_and_a_cleared_retest_is_refused(world: World) -> None:
    _code, retest = _positive_tube(world)
    assert _client(world.leader).get(f"/testing/retests/{retest.pk}/confirm/").status_code == 403
    assert _client(world.outsider).get(f"/testing/retests/{retest.pk}/confirm/").status_code == 404
    leader_list = _client(world.leader).get(f"/testing/c/{world.community.code}/").content.decode()
    assert f"/testing/retests/{retest.pk}/confirm/" not in leader_list
    assert not Case.objects.exists()
    # The single tube came back negative: nothing to confirm.
    rnd = retest.round
    assert rnd is not None
    single = sample_take(round=rnd, residents=[retest.resident], actor=None, station="d", door_to_door=True)
    results_import(
        round=rnd, data=csv_bytes([["试管编码", "检测结果"], [single.tube.code, "阴性"]]), filename="r.csv", actor=None
    )
    with pytest.raises(TestingError):
        retest_case_confirm(retest_id=retest.pk, actor=world.secretary)
    answer = _client(world.secretary).post(
        f"/testing/retests/{retest.pk}/confirm/", {"report_date": timezone.localdate().isoformat()}
    )
    assert answer.status_code == 400 and "阴性" in answer.content.decode()
    assert not Case.objects.exists()


def test_an_invalid_tube_is_not_shown_as_evidence(world: World) -> None:
    wang = world.resident("王秀英")
    retest, _ = retest_open(resident=wang, reason=Retest.Reason.INVALID_TUBE, actor=None, key="t")
    page = _client(world.secretary).get(f"/testing/retests/{retest.pk}/confirm/").content.decode()
    assert "无效管不能作为确诊依据" in page
    positive, _ = retest_open(resident=world.resident("刘洋"), reason=Retest.Reason.ANTIGEN, actor=None, key="t")
    assert "无效管" not in _client(world.secretary).get(f"/testing/retests/{positive.pk}/confirm/").content.decode()
