"""A needs survey answered by the household itself from its page (its pass), once per household."""

from __future__ import annotations

import pytest
from django.test import Client

from fangzhou.portal.tests.conftest import Home, enter
from fangzhou.registry.models import Resident
from fangzhou.surveys.models import Answer
from fangzhou.surveys.services import survey_standard, survey_status_set
from fangzhou.workorders.models import WorkOrder

pytestmark = pytest.mark.django_db


def test_the_household_answers_its_committees_survey(home: Home) -> None:
    survey = survey_standard(community=home.world.community, actor=None)
    client = Client()
    enter(client, home.token, "101", "1234")
    assert "需求排摸" not in client.get("/home/").content.decode()  # a draft is not offered
    survey_status_set(survey_id=survey.pk, status="open", actor=None)
    page = client.get("/home/").content.decode()
    assert "居委会的问题" in page and f"/home/surveys/{survey.pk}/" in page
    form = client.get(f"/home/surveys/{survey.pk}/").content.decode()
    assert "张*" in form and "张伟" not in form  # names masked on a page without an account
    li = Resident.objects.get(name="李娜")
    answer = {"dialysis": [str(li.pk)], "medicine": "yes", "vaccination_60": "no_elderly"}
    assert client.post(f"/home/surveys/{survey.pk}/", answer).status_code == 303
    assert client.post(f"/home/surveys/{survey.pk}/", answer).status_code == 303
    saved = Answer.objects.get()
    assert saved.household_id == home.h101.pk and saved.answered_by is None
    assert "dialysis" in Resident.objects.get(pk=li.pk).special_codes
    assert WorkOrder.objects.filter(source_key__startswith=f"survey:{survey.pk}:").count() == 1
    assert "谢谢" in client.get("/home/").content.decode()
    # another household's member cannot be named; a required answer missing is said plainly
    other = Resident.objects.get(name="刘洋")
    bad = client.post(f"/home/surveys/{survey.pk}/", {**answer, "dialysis": [str(other.pk)]})
    assert bad.status_code == 400
    assert client.post(f"/home/surveys/{survey.pk}/", {"medicine": ""}).status_code == 400
    # without a pass, or for another community's survey: refused
    assert Client().get(f"/home/surveys/{survey.pk}/").status_code == 403
    foreign = survey_standard(community=home.world.other, actor=None)
    survey_status_set(survey_id=foreign.pk, status="open", actor=None)
    assert client.get(f"/home/surveys/{foreign.pk}/").status_code == 404


def test_a_survey_imported_from_an_xlsform_is_answered_from_the_household_page(home: Home) -> None:
    from fangzhou.surveys.services import survey_from_xlsform
    from fangzhou.surveys.tests.test_surveys import _xlsform

    survey = survey_from_xlsform(community=home.world.community, data=_xlsform(), filename="o.xlsx", actor=None)
    survey_status_set(survey_id=survey.pk, status="open", actor=None)
    client = Client()
    enter(client, home.token, "101", "1234")
    form = client.get(f"/home/surveys/{survey.pk}/").content.decode()
    assert "家中是否需要制氧机" in form and "食物够几天" in form
    answer = {"oxygen": "yes", "people": "2", "next_visit": "2022-05-03", "food": "d7"}
    assert client.post(f"/home/surveys/{survey.pk}/", answer).status_code == 303
    assert Answer.objects.get(survey=survey).values == {
        "oxygen": "yes",
        "people": 2,
        "next_visit": "2022-05-03",
        "food": "d7",
    }
