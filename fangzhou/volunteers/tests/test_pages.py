"""Volunteer pages and endpoints: public sign-up, the committee's pages, scope for everyone else."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from django.test import Client
from django.utils import timezone

from fangzhou.registry.tests.factories import World
from fangzhou.volunteers.models import Post, Volunteer, VolunteerStatus
from fangzhou.volunteers.services import shift_create, signup_link_ensure, work_groups_ensure
from fangzhou.volunteers.tests.helpers import approved


def client_for(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_public_signup_then_committee_approval(world: World) -> None:
    token = signup_link_ensure(community=world.community).token
    phone = Client()
    form = phone.get(f"/volunteers/join/{token}/").content.decode()
    assert "测试居民区" in form and 'name="client_id"' in form
    assert 'name="groups" value="supplies"' in form and 'name="days" value="6"' in form
    assert 'name="slots" value="evening"' in form and "周六" in form
    data = {
        "client_id": "k" * 32,
        "name": "林平",
        "phone": "13612345678",
        "kind": "cadre",
        "skills": ["driver"],
        "groups": ["supplies", "patrol"],
        "days": ["6", "7"],
        "slots": ["evening"],
    }
    first = phone.post(f"/volunteers/join/{token}/", data)
    assert phone.post(f"/volunteers/join/{token}/", data)["Location"] == first["Location"]
    assert Volunteer.objects.count() == 1
    bad = phone.post(f"/volunteers/join/{token}/", {**data, "client_id": "m" * 32, "phone": "123"})
    assert bad.status_code == 400 and "手机号" in bad.content.decode()
    # What they ticked is kept on the form that comes back.
    assert 'value="evening" checked' in bad.content.decode()
    assert phone.get("/volunteers/join/wrong-token-000000000/").status_code == 404
    v = Volunteer.objects.get()
    sec = client_for(world.secretary)
    listing = sec.get("/volunteers/").content.decode()
    # The committee sees what they asked for, in words, and the groups are ticked for approval.
    assert "林平" in listing and "保供、平安巡逻" in listing and "周六 周日" in listing and "晚上" in listing
    assert 'value="supplies" checked' in listing and 'value="patrol" checked' in listing
    assert 'value="care" checked' not in listing
    sec.cookies["django_language"] = "en"
    listing = sec.get("/volunteers/").content.decode()
    assert "Sat Sun" in listing and "Evening (18–22)" in listing
    sec.cookies["django_language"] = "zh-hans"
    response = sec.post(f"/volunteers/{v.pk}/approve/", {"groups": ["patrol"]})
    page = response.content.decode()
    v.refresh_from_db()
    assert v.status == VolunteerStatus.APPROVED and v.user is not None
    # A one-time sign-in link and its QR code; no password anywhere.
    assert 'id="signin-link"' in page and "/accounts/link/" in page and "<svg" in page
    assert 'id="password"' not in page and "密码：" not in page
    assert response["Cache-Control"] == "no-store"
    assert list(v.groups.values_list("code", flat=True)) == ["patrol"]
    # The link opens the accounts' page that sets their own password.
    link = page.split('id="signin-link" href="', 1)[1].split('"', 1)[0]
    path = link.split("://", 1)[-1].split("/", 1)[1]
    assert Client().get("/" + path).status_code == 200
    # Approving again shows no new link; the committee makes one from the accounts page.
    again = sec.post(f"/volunteers/{v.pk}/approve/").content.decode()
    assert 'id="signin-link"' not in again and f"/accounts/people/{v.user_id}/link/" in again


def test_approved_volunteer_sees_what_they_still_need(world: World) -> None:
    v = approved(world.community, "程新", "13811110299", groups=(), tested_hours_ago=None)
    me = client_for(v.user)
    page = me.get("/volunteers/me/").content.decode()
    needs = page[page.index('id="needs"') : page.index('id="gate"')]
    assert "48 小时内的阴性检测结果" in needs and "工作组" in needs
    me.cookies["django_language"] = "en"
    page = me.get("/volunteers/me/").content.decode()
    assert "a negative test (antigen or PCR) from the last 48 hours" in page and "work group" in page
    from fangzhou.volunteers.services import volunteer_groups_set, volunteer_test_record

    volunteer_groups_set(volunteer=v, codes=["supplies"], actor=world.secretary)
    volunteer_test_record(volunteer=v, tested_at=timezone.now() - dt.timedelta(hours=1), result="negative", actor=None)
    assert 'id="needs"' not in me.get("/volunteers/me/").content.decode()


def test_volunteer_sees_only_themselves(world: World) -> None:
    a = approved(world.community, "甲", "13811110201")
    b = approved(world.community, "乙", "13811110202")
    me = client_for(a.user)
    assert me.get(f"/volunteers/{a.pk}/").status_code == 200
    assert me.get("/volunteers/me/").status_code == 200
    assert me.get(f"/volunteers/{b.pk}/").status_code == 404
    assert me.get(f"/api/volunteers/{b.pk}").status_code == 404
    assert [v["name"] for v in json.loads(me.get("/api/volunteers/").content)["items"]] == ["甲"]
    assert me.get("/volunteers/").status_code == 302  # to their own page
    assert me.get("/volunteers/roster/").status_code == 403
    assert me.post(f"/volunteers/{b.pk}/approve/").status_code == 404
    # Recording one's own test works; someone else's does not.
    now = timezone.localtime().strftime("%Y-%m-%dT%H:%M")
    assert me.post(f"/volunteers/{a.pk}/tests/", {"tested_at": now, "result": "negative"}).status_code == 302
    assert me.post(f"/volunteers/{b.pk}/tests/", {"tested_at": now, "result": "positive"}).status_code == 404


def test_group_lead_sees_members(world: World) -> None:
    from fangzhou.volunteers.services import work_group_lead_set

    a = approved(world.community, "组长", "13811110301", groups=("patrol",))
    b = approved(world.community, "组员", "13811110302", groups=("patrol",))
    c = approved(world.community, "别组", "13811110303", groups=("supplies",))
    group = next(g for g in work_groups_ensure(community=world.community) if g.code == "patrol")
    work_group_lead_set(group=group, lead=a.user, actor=world.secretary)
    lead = client_for(a.user)
    assert lead.get(f"/volunteers/{b.pk}/").status_code == 200
    assert lead.get(f"/volunteers/{c.pk}/").status_code == 404


def test_roster_page_gaps_export_and_print(world: World) -> None:
    group = next(g for g in work_groups_ensure(community=world.community) if g.code == "testing")
    day = timezone.localdate()
    start = dt.datetime.combine(day, dt.time(7), tzinfo=timezone.get_current_timezone())
    shift, _ = shift_create(
        group=group,
        post=Post.SAMPLING_SITE,
        place="1号点",
        starts_at=start,
        ends_at=start + dt.timedelta(hours=4),
        needed=3,
        actor=None,
    )
    sec = client_for(world.secretary)
    page = sec.get(f"/volunteers/roster/?date={day.isoformat()}").content.decode()
    assert 'id="gaps">3<' in page and "1号点" in page
    assert sec.get(f"/volunteers/roster/?date={day.isoformat()}&print=1").status_code == 200
    xlsx = sec.get(f"/volunteers/roster.xlsx?date={day.isoformat()}")
    assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"
    blocked = approved(world.community, "未测", "13811110401", groups=("testing",), tested_hours_ago=None)
    menu = sec.get(f"/volunteers/shifts/{shift.pk}/assign/").content.decode()
    assert "未测" in menu and "48 小时内没有阴性检测结果" in menu and "no negative test" not in menu
    refused = sec.post(f"/volunteers/shifts/{shift.pk}/assign/", {"volunteer": blocked.pk})
    assert refused.status_code == 400 and "48 小时内没有阴性" in refused.content.decode()


def test_outsiders_and_anonymous_are_refused_everywhere(world: World) -> None:
    v = approved(world.community, "甲", "13811110501")
    group = work_groups_ensure(community=world.community)[0]
    start = timezone.now()
    shift, _ = shift_create(
        group=group, post=Post.GATE, starts_at=start, ends_at=start + dt.timedelta(hours=2), actor=None
    )
    outsider = client_for(world.outsider)
    anonymous = Client()
    gets = [
        f"/volunteers/{v.pk}/",
        f"/api/volunteers/{v.pk}",
        f"/api/volunteers/{v.pk}/health",
        f"/api/volunteers/{v.pk}/exposure",
        f"/volunteers/shifts/{shift.pk}/assign/",
        f"/api/volunteers/roster/{world.community.code}/{start.date().isoformat()}",
    ]
    for url in gets:
        assert outsider.get(url).status_code == 404, url
        assert anonymous.get(url).status_code in {302, 401}, url
    posts = [
        f"/volunteers/{v.pk}/approve/",
        f"/volunteers/{v.pk}/groups/",
        f"/volunteers/{v.pk}/tests/",
        f"/volunteers/groups/{group.pk}/lead/",
    ]
    for url in posts:
        assert outsider.post(url).status_code == 404, url
        assert anonymous.post(url).status_code == 302, url
    assert (
        outsider.post(
            f"/api/volunteers/shifts/{shift.pk}/assign",
            json.dumps({"volunteer_id": v.pk}),
            content_type="application/json",
        ).status_code
        == 404
    )
    assert "甲" not in outsider.get("/volunteers/").content.decode()
    assert outsider.get(f"/volunteers/?c={world.community.code}").status_code == 404
    assert outsider.get(f"/volunteers/roster/?c={world.community.code}").status_code == 404
    assert outsider.get(f"/volunteers/roster.xlsx?c={world.community.code}").status_code == 404
    assert json.loads(outsider.get("/api/volunteers/").content)["items"] == []
    for url in ("/volunteers/", "/volunteers/roster/", "/volunteers/groups/", "/volunteers/qr/", "/volunteers/swaps/"):
        assert anonymous.get(url).status_code == 302
    # A building leader is not the committee: no volunteer list.
    assert client_for(world.leader).get("/volunteers/").status_code == 403


def test_destructive_buttons_ask_once_in_the_readers_language(world: World) -> None:
    from fangzhou.volunteers.services import shift_assign
    from fangzhou.workorders.models import Kind
    from fangzhou.workorders.services import work_order_claim, work_order_create

    v = approved(world.community, "撤班", "13811110501", groups=("supplies",))
    group = next(g for g in work_groups_ensure(community=world.community) if g.code == "supplies")
    start = timezone.now() + dt.timedelta(hours=1)
    shift, _ = shift_create(
        group=group, post=Post.GATE, starts_at=start, ends_at=start + dt.timedelta(hours=2), actor=None
    )
    shift_assign(shift=shift, volunteer=v, actor=world.secretary)
    order, _ = work_order_create(
        community=world.community, kind=Kind.SUPPLY_DELIVERY, title="送药", actor=None, building=world.b3
    )
    assert v.user is not None
    work_order_claim(order_id=order.pk, actor=v.user)
    sec = client_for(world.secretary)
    day = timezone.localdate(start).isoformat()
    expected = {
        f"/volunteers/roster/?date={day}": 'data-confirm="把撤班从这个班次撤下？"',
        f"/orders/{order.pk}/": 'data-confirm="取消这张工单？"',
        "/volunteers/qr/": 'data-confirm="生成新链接？',
        f"/volunteers/{v.pk}/": 'data-confirm="登记阳性结果？',
    }
    for url, question in expected.items():
        assert question in sec.get(url).content.decode(), url
    assert 'data-confirm="把这张工单退回队列？"' in client_for(v.user).get("/orders/").content.decode()
    sec.cookies["django_language"] = "en"
    assert 'data-confirm="Take 撤班 off this shift?"' in sec.get(f"/volunteers/roster/?date={day}").content.decode()
    assert 'data-confirm="Cancel this work order?"' in sec.get(f"/orders/{order.pk}/").content.decode()
