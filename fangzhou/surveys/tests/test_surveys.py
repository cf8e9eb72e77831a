"""Needs surveys: the standard one, one built on the page, one from an XLSForm; answers by a
building leader raise work orders and add special-care needs once; results and export; scope."""

from __future__ import annotations

import io

import pytest
from django.test import Client
from openpyxl import Workbook, load_workbook

from fangzhou.registry.models import Household, Resident
from fangzhou.registry.tests.factories import World
from fangzhou.surveys.models import Answer, Survey
from fangzhou.surveys.services import SurveyError, answer_save, survey_from_xlsform, survey_standard, survey_status_set
from fangzhou.workorders.models import Kind, WorkOrder

pytestmark = pytest.mark.django_db


def _client(user: object) -> Client:
    client = Client()
    client.force_login(user)  # type: ignore[arg-type]
    return client


def _xlsform() -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "survey"
    sheet.append(["type", "name", "label::中文 (zh)", "label::English (en)", "required"])
    sheet.append(["select_one yn", "oxygen", "家中是否需要制氧机？", "Do you need an oxygen concentrator?", "yes"])
    sheet.append(["integer", "people", "常住几人", "How many people live here", ""])
    sheet.append(["date", "next_visit", "下次复诊日期", "Next hospital visit", ""])
    sheet.append(["select_one food", "food", "食物够几天", "Food for how many days", ""])
    sheet.append(["geopoint", "where", "位置", "Location", ""])
    choices = book.create_sheet("choices")
    choices.append(["list_name", "name", "label::中文 (zh)", "label::English (en)"])
    for row in (
        ["yn", "yes", "是", "Yes"],
        ["yn", "no", "否", "No"],
        ["food", "d3", "三天内", "< 3 days"],
        ["food", "d7", "一周", "a week"],
    ):
        choices.append(row)
    settings = book.create_sheet("settings")
    settings.append(["form_title", "form_id"])
    settings.append(["制氧机排摸", "oxygen"])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_the_leader_answers_for_a_household_and_the_answers_act_once(world: World) -> None:
    survey = survey_standard(community=world.community, actor=world.secretary)
    survey_status_set(survey_id=survey.pk, status="open", actor=world.secretary)
    household = Household.objects.get(building=world.b3, room="101")
    li = world.resident("李娜")
    leader = _client(world.leader)
    page = leader.get(f"/surveys/{survey.pk}/households/").content.decode()
    assert "101" in page and "102" in page and "5号楼" not in page  # only the leader's building
    form = {"dialysis": [str(li.pk)], "medicine": "yes", "vaccination_60": "no_elderly", "other": "需要买菜"}
    assert leader.post(f"/surveys/{survey.pk}/h/{household.pk}/", form).status_code == 302
    assert leader.post(f"/surveys/{survey.pk}/h/{household.pk}/", form).status_code == 302  # again
    assert Answer.objects.get().values["other"] == "需要买菜"
    assert "dialysis" in Resident.objects.get(pk=li.pk).special_codes
    (order,) = WorkOrder.objects.filter(source_key__startswith=f"survey:{survey.pk}:")
    assert order.kind == Kind.MEDICINE and order.household_id == household.pk
    # a required question missing is said plainly; another household's member is refused
    bad = leader.post(f"/surveys/{survey.pk}/h/{household.pk}/", {"medicine": "", "vaccination_60": "all"})
    assert bad.status_code == 400 and "请回答" in bad.content.decode()
    zhao = Resident.objects.get(name="赵敏")
    with pytest.raises(SurveyError):
        answer_save(
            survey_id=survey.pk,
            household=household,
            raw={"dialysis": [str(zhao.pk)], "medicine": ["no"], "vaccination_60": ["all"]},
            actor=None,
        )
    # the other building's household is not the leader's to answer
    other = Household.objects.get(building=world.b5)
    assert leader.get(f"/surveys/{survey.pk}/h/{other.pk}/").status_code == 404


def test_a_survey_from_an_xlsform_collects_answers(world: World) -> None:
    survey = survey_from_xlsform(community=world.community, data=_xlsform(), filename="oxygen.xlsx", actor=None)
    kinds = list(survey.questions.values_list("name", "kind", "required"))
    assert kinds == [
        ("oxygen", "yes_no", True),
        ("people", "number", False),
        ("next_visit", "date", False),
        ("food", "choice", False),
    ]
    assert survey.title_zh == "制氧机排摸"
    survey_status_set(survey_id=survey.pk, status="open", actor=None)
    household = Household.objects.get(building=world.b5)
    answer, _done = answer_save(
        survey_id=survey.pk,
        household=household,
        raw={"oxygen": ["yes"], "people": ["3"], "next_visit": ["2022-05-01"], "food": ["d3"]},
        actor=world.secretary,
    )
    assert answer.values == {"oxygen": "yes", "people": 3, "next_visit": "2022-05-01", "food": "d3"}
    with pytest.raises(SurveyError):
        survey_from_xlsform(community=world.community, data=b"not a workbook", filename="x.xlsx", actor=None)


def test_the_committee_builds_on_the_page_sees_results_and_exports(world: World) -> None:
    sec = _client(world.secretary)
    r = sec.post("/surveys/c/T01/new/", {"title_zh": "物资需求", "title_en": "Supplies"})
    survey = Survey.objects.get(title_zh="物资需求")
    assert r.status_code == 302
    sec.post(
        f"/surveys/{survey.pk}/questions/",
        {"kind": "choice", "label_zh": "大米还够吗", "choices": "够 / enough\n不够 / not enough", "required": "1"},
    )
    bad = sec.post(f"/surveys/{survey.pk}/questions/", {"kind": "choice", "label_zh": "只有一个", "choices": "一"})
    assert bad.status_code == 400
    sec.post(f"/surveys/{survey.pk}/status/", {"status": "open"})
    household = Household.objects.get(building=world.b3, room="102")
    sec.post(f"/surveys/{survey.pk}/h/{household.pk}/", {"q1": "c2"})
    page = sec.get(f"/surveys/{survey.pk}/").content.decode()
    assert "不够" in page
    book = load_workbook(io.BytesIO(sec.get(f"/surveys/{survey.pk}/export/").content))
    rows = list(book.active.iter_rows(values_only=True))  # type: ignore[union-attr]
    assert rows[0][2] == "大米还够吗" and rows[1][1] == "102" and rows[1][2] == "不够"
    # outsiders and leaders cannot build, see results or export
    for user in (world.outsider, world.leader):
        client = _client(user)
        assert client.get(f"/surveys/{survey.pk}/").status_code == 404
        assert client.get(f"/surveys/{survey.pk}/export/").status_code == 404
    assert _client(world.outsider).get(f"/surveys/{survey.pk}/households/").status_code == 404
