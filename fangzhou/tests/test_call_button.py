"""The call button: a tel: link through a server endpoint that audits the call like an unmasking and
hands the number to the phone's dialler; the number is in no page."""

from __future__ import annotations

import pytest
from django.test import Client

from fangzhou.accounts.models import AuditLog
from fangzhou.care.services import care_registry_sync
from fangzhou.registry.models import Resident
from fangzhou.registry.tests.factories import World
from fangzhou.testing.services import retest_open
from fangzhou.volunteers.tests.helpers import approved
from fangzhou.workorders.services import work_order_claim, work_order_transition

pytestmark = pytest.mark.django_db
ZHANG_PHONE = "13800001234"


def signed_in(user: object) -> Client:
    client = Client()
    client.force_login(user)  # type: ignore[arg-type]
    return client


def test_a_building_leader_dials_from_the_not_reported_list_without_seeing_the_number(world: World) -> None:
    zhang = world.resident("张伟")
    leader = signed_in(world.leader)
    page = leader.get(f"/testing/antigen/b/{world.b3.pk}/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    link = f"/r/{zhang.pk}/call/?from=not_reported"
    assert link in page and ZHANG_PHONE not in page and "拨打" in page
    answer = leader.get(link)
    assert answer.status_code == 302 and answer["Location"] == f"tel:+86{ZHANG_PHONE}"
    assert answer["Cache-Control"] == "no-store"
    row = AuditLog.objects.get(action="resident.call")
    assert row.actor_id == world.leader.pk and row.target_id == str(zhang.pk) and row.detail == {"from": "not_reported"}
    assert ZHANG_PHONE not in str(row.detail)


def test_a_volunteer_dials_only_the_door_of_an_order_they_hold(world: World) -> None:
    zhang, li = world.resident("张伟"), world.resident("李娜")
    retest, _ = retest_open(resident=zhang, reason="antigen_positive", actor=None, key="t1")
    order = retest.work_order
    assert order is not None
    volunteer = approved(world.community, "甲", "13811110101", groups=("testing",))
    assert volunteer.user is not None
    client = signed_in(volunteer.user)
    assert client.get(f"/r/{zhang.pk}/call/").status_code == 404  # not theirs yet
    work_order_claim(order_id=order.pk, actor=volunteer.user)
    page = client.get("/orders/").content.decode()
    assert f"/r/{zhang.pk}/call/?from=order" in page and ZHANG_PHONE not in page
    assert client.get(f"/r/{zhang.pk}/call/?from=order")["Location"] == f"tel:+86{ZHANG_PHONE}"
    assert client.get(f"/r/{li.pk}/call/").status_code == 302  # the same household: the same door
    assert client.get(f"/r/{world.resident('刘洋').pk}/call/").status_code == 404  # another door
    work_order_transition(order_id=order.pk, actor=volunteer.user, action="done")
    assert client.get(f"/r/{zhang.pk}/call/").status_code == 404  # the job is over
    assert AuditLog.objects.filter(action="resident.call", actor=volunteer.user).count() == 2


def test_calls_from_the_retest_and_checkin_lists_and_refusals(world: World) -> None:
    zhang, wang = world.resident("张伟"), world.resident("王秀英")
    retest_open(resident=zhang, reason="antigen_positive", actor=None, key="t1")
    care_registry_sync(community=world.community, actor=None)
    secretary = signed_in(world.secretary)
    rounds = secretary.get("/testing/c/T01/").content.decode()
    assert f"/r/{zhang.pk}/call/?from=retests" in rounds and ZHANG_PHONE not in rounds
    checkins = secretary.get("/care/c/T01/checkins/").content.decode()
    assert "王秀英" in checkins  # living alone, no phone: no button, nothing to dial
    assert f"/r/{wang.pk}/call/" not in checkins
    no_phone = secretary.get(f"/r/{wang.pk}/call/", HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert no_phone.status_code == 404 and "未登记电话" in no_phone.content.decode()
    Resident.objects.filter(pk=wang.pk).update(phone="13500001111")  # her daughter's number, say
    checkins = secretary.get("/care/c/T01/checkins/").content.decode()
    assert f"/r/{wang.pk}/call/?from=checkins" in checkins and "13500001111" not in checkins
    assert signed_in(world.outsider).get(f"/r/{zhang.pk}/call/").status_code == 404
    assert signed_in(world.officer).get(f"/r/{zhang.pk}/call/").status_code == 404  # counts, not calls
    assert Client().get(f"/r/{zhang.pk}/call/").status_code == 302  # to sign in, not to the dialler
    assert not Client().get(f"/r/{zhang.pk}/call/")["Location"].startswith("tel:")
