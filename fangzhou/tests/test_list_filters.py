"""The filters of the long lists: special care by need, building and day; deliveries "undelivered
only"; the open work orders by building, kind and age; the not-reported list by building. Bad
input gets a clear message (400), never a 500."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.test import Client
from django.utils import timezone

from fangzhou.care.models import CareProfile
from fangzhou.care.services import care_registry_sync, treatment_schedule_set
from fangzhou.registry.tests.factories import World
from fangzhou.supplies import services as supplies
from fangzhou.supplies.models import Delivery
from fangzhou.workorders.models import WorkOrder
from fangzhou.workorders.services import work_order_create

pytestmark = pytest.mark.django_db
MONDAY = dt.date(2022, 4, 18)


def signed_in(user: object) -> Client:
    client = Client()
    client.force_login(user)  # type: ignore[arg-type]
    return client


def names(html: str, section: str) -> str:
    return html[html.index(section) :]


def test_special_care_by_need_building_and_day(world: World) -> None:
    care_registry_sync(community=world.community, actor=None)
    liu = CareProfile.objects.get(resident__name="刘洋")  # 血透, building 5
    treatment_schedule_set(
        profile_id=liu.pk, actor=None, kind="dialysis", weekdays=[1, 3, 5], at=dt.time(8), hospital="瑞金医院"
    )
    client = signed_in(world.secretary)
    url = "/care/c/T01/"

    def registry(query: str) -> str:  # the registry list, below the at-risk panel (which lists 刘洋 always)
        return names(client.get(url + query).content.decode(), 'class="people card registry"')

    everyone = registry("")
    assert "王秀英" in everyone and "刘洋" in everyone
    by_building = registry(f"?building={world.b3.pk}")
    assert "王秀英" in by_building and "刘洋" not in by_building
    by_need = registry("?need=dialysis")
    assert "刘洋" in by_need and "王秀英" not in by_need
    monday = registry(f"?on={MONDAY.isoformat()}")
    tuesday = registry(f"?on={(MONDAY + dt.timedelta(days=1)).isoformat()}")
    assert "刘洋" in monday and "王秀英" not in monday  # a session on Monday
    assert "刘洋" not in tuesday
    bad = client.get(f"{url}?on=tomorrow&building=99999", HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert bad.status_code == 400
    text = bad.content.decode()
    assert "日期格式应为" in text and "没有这栋楼" in text and "刘洋" in text  # and the whole list still


def test_deliveries_undelivered_only(world: World) -> None:
    dist = supplies.distribution_create(
        community=world.community,
        name="蔬菜包",
        kind="government",
        on=dt.date(2022, 4, 20),
        package={"米": 1},
        actor=None,
    )
    supplies.distribution_allocate(distribution=dist, actor=None)
    doors = list(Delivery.objects.filter(distribution=dist, building=world.b3).select_related("household"))
    assert len(doors) == 2
    served = next(d for d in doors if d.household.room == "101")
    supplies.delivery_mark(delivery_id=served.pk, actor=world.secretary, sealed=False)
    client = signed_in(world.secretary)
    url = f"/supplies/d/{dist.pk}/b/{world.b3.pk}/"
    assert f'id="door{served.pk}"' in client.get(url).content.decode()
    only = client.get(url + "?undelivered=1").content.decode()
    assert f'id="door{served.pk}"' not in only and 'id="pending-count">1<' in only
    assert len(re.findall(r'<li class="door pending"', only)) == 1


def test_open_work_orders_by_building_kind_and_age(world: World) -> None:
    def order(title: str, kind: str, building: object, hours_old: float) -> WorkOrder:
        o, _ = work_order_create(community=world.community, kind=kind, title=title, actor=None, building=building)
        WorkOrder.objects.filter(pk=o.pk).update(created_at=timezone.now() - dt.timedelta(hours=hours_old))
        return o

    order("消毒三号楼", "disinfection", world.b3, 30)
    order("送菜三号楼", "supply_delivery", world.b3, 1)
    order("消毒五号楼", "disinfection", world.b5, 3)
    client = signed_in(world.secretary)

    def listed(query: str) -> set[str]:
        html = client.get(f"/orders/?c=T01&{query}").content.decode()
        table = html[html.index('id="open"') :]
        return {t for t in ("消毒三号楼", "送菜三号楼", "消毒五号楼") if t in table}

    assert listed("") == {"消毒三号楼", "送菜三号楼", "消毒五号楼"}
    assert listed(f"building={world.b3.pk}") == {"消毒三号楼", "送菜三号楼"}
    assert listed("kind=disinfection") == {"消毒三号楼", "消毒五号楼"}
    assert listed("older=2") == {"消毒三号楼", "消毒五号楼"}
    assert listed(f"older=24&building={world.b3.pk}&kind=disinfection") == {"消毒三号楼"}
    bad = client.get("/orders/?c=T01&kind=nonsense&older=7", HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert bad.status_code == 400 and "筛选条件无效" in bad.content.decode()


def test_the_not_reported_list_by_building(world: World) -> None:
    client = signed_in(world.secretary)
    page = client.get(f"/testing/antigen/c/T01/?building={world.b3.pk}").content.decode()
    section = names(page, 'id="not-reported"')
    assert "张伟" in section and "王秀英" in section and "刘洋" not in section
    other = names(client.get(f"/testing/antigen/c/T01/?building={world.b5.pk}").content.decode(), 'id="not-reported"')
    assert "刘洋" in other and "张伟" not in other
    # a leader of building 3 cannot pick building 5 (it is not on their list)
    leader = signed_in(world.leader)
    refused = leader.get(f"/testing/antigen/c/T01/?building={world.b5.pk}")
    assert refused.status_code == 400 and "刘洋" not in refused.content.decode()
