"""The sampling desk knows the zones (issue 10): a resident of a sealed building, micro sealed zone or
sealed compound is stopped at a central site and offered the door-to-door path; closing a tube that
is not full asks once."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client

from fangzhou.accounts.models import User
from fangzhou.cases.services import case_confirm
from fangzhou.registry.tests.factories import World
from fangzhou.testing import selectors
from fangzhou.testing.models import Retest, Sample, TubeKind
from fangzhou.testing.services import TestingError, retest_open, round_create, sample_take
from fangzhou.testing.tests.helpers import DAY
from fangzhou.zones.services import microzone_draw

pytestmark = pytest.mark.django_db


def _client(user: User, language: str = "zh-hans") -> Client:
    client = Client()
    client.force_login(user)
    client.cookies["django_language"] = language
    return client


def _seal_compound(world: World) -> None:
    """A case reported the day before the round seals the compound of buildings 3 and 5."""
    case_confirm(resident=world.resident("刘洋"), report_date=DAY - dt.timedelta(days=1), source="staff", actor=None)


def test_a_sealed_resident_is_stopped_at_the_site_and_offered_the_door_list(world: World) -> None:
    _seal_compound(world)
    rnd = round_create(community=world.community, date=DAY, pool_size=10, actor=world.secretary)
    client = _client(world.secretary)
    page = client.get(f"/testing/r/{rnd.pk}/desk/", {"q": "张伟", "desk": "1"}, HTTP_HX_REQUEST="true").content.decode()
    assert "封控楼，应上门采样" in page
    assert "放入试管" not in page and "全户" not in page  # no button pools them
    assert f"/testing/r/{rnd.pk}/doors/#b{world.b3.pk}" in page
    english = _client(world.secretary, "en").get(f"/testing/r/{rnd.pk}/desk/", {"q": "张伟"}).content.decode()
    assert "Sealed building: sample at the door" in english
    # A tap that gets through anyway (an old page, the API) is refused in both languages.
    zhang, li = world.resident("张伟"), world.resident("李娜")
    refused = client.post(f"/testing/r/{rnd.pk}/desk/take/", {"resident": [zhang.pk, li.pk], "desk": "1"})
    body = refused.content.decode()
    assert refused.status_code == 409 and "封控楼，应上门采样" in body and "sealed building" in body
    assert not Sample.objects.exists()
    # The door list the button opens holds the household.
    doors = client.get(f"/testing/r/{rnd.pk}/doors/").content.decode()
    assert f'id="b{world.b3.pk}"' in doors and "张伟" in doors
    # At the door the same household is sampled.
    taken = client.post(f"/testing/r/{rnd.pk}/desk/take/", {"resident": [zhang.pk, li.pk], "desk": "door"})
    assert taken.status_code == 200 and Sample.objects.filter(door_to_door=True).count() == 2


def test_a_micro_sealed_zone_stops_only_its_own_buildings(world: World) -> None:
    microzone_draw(
        compound=world.b5.compound,
        name="B块",
        building_ids=[world.b5.pk],
        drawn_on=DAY - dt.timedelta(days=3),
        actor=None,
    )
    _seal_compound(world)  # 刘洋 lives in 5号楼: only the block is sealed
    rnd = round_create(community=world.community, date=DAY, pool_size=10, actor=world.secretary)
    wang = selectors.desk_search(world.secretary, rnd, "王秀英")[0]
    assert not wang.sealed
    liu = world.resident("刘洋")
    with pytest.raises(TestingError) as stopped:
        sample_take(round=rnd, residents=[liu], actor=world.secretary, station="site:0:1")
    assert "封控楼，应上门采样" in stopped.value.zh and "刘洋" in stopped.value.zh
    sample_take(round=rnd, residents=[world.resident("王秀英")], actor=world.secretary, station="site:0:1")
    page = _client(world.secretary).get(f"/testing/r/{rnd.pk}/desk/", {"q": "刘洋"}).content.decode()
    assert "封控楼，应上门采样" in page and "小封控区 B块" in page
    assert selectors.desk_search(world.secretary, rnd, "刘洋")[0].sealed_zone == "B块"


def test_a_retest_resident_gets_a_single_tube_and_a_sealed_one_the_door_order(world: World) -> None:
    rnd = round_create(community=world.community, date=DAY, pool_size=10, actor=world.secretary)
    wang = world.resident("王秀英")
    retest, _ = retest_open(resident=wang, reason=Retest.Reason.ANTIGEN, actor=None, key="t")
    page = _client(world.secretary).get(f"/testing/r/{rnd.pk}/desk/", {"q": "王秀英"}).content.decode()
    assert "单采复查" in page and "封控楼" not in page
    taken = sample_take(round=rnd, residents=[wang], actor=world.secretary, station="site:0:1")
    assert taken.single and taken.tube.kind == TubeKind.SINGLE
    # Once the compound is sealed, the next re-test resident found at the desk gets the door order.
    li = world.resident("李娜")
    second, _ = retest_open(resident=li, reason=Retest.Reason.ANTIGEN, actor=None, key="t2")
    _seal_compound(world)
    page = _client(world.secretary).get(f"/testing/r/{rnd.pk}/desk/", {"q": "李娜"}).content.decode()
    assert "封控楼，应上门采样" in page and f"/orders/{second.work_order_id}/" in page
    assert retest.work_order_id is not None


def test_closing_a_tube_that_is_not_full_asks_once(world: World) -> None:
    rnd = round_create(community=world.community, date=DAY, pool_size=10, actor=world.secretary)
    client = _client(world.secretary)
    zhang, li = world.resident("张伟"), world.resident("李娜")
    answer = client.post(f"/testing/r/{rnd.pk}/desk/take/", {"resident": [zhang.pk, li.pk], "desk": "1"})
    body = answer.content.decode()
    code = Sample.objects.get(resident=zhang).tube.code
    assert f'hx-confirm="试管 {code} 只有 2/10 份样本，确定现在封管吗？"' in body
    english = _client(world.secretary, "en").get(f"/testing/r/{rnd.pk}/desk/", {"desk": "1"}).content.decode()
    assert f"Tube {code} holds only 2 of 10. Close it now?" in english
