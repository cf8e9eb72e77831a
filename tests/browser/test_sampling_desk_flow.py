"""The sampling desk's day on a phone (390 px), in Chinese and English (issue 10): pooled sampling
and a tube closed early (asks once), a positive tube, its single-tube re-tests, a negative re-test
closing its door order, a case confirmed from the re-test list, and a resident of the now sealed
compound stopped at the desk and sent to the door list."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.core.cache import cache
from django.utils import timezone
from playwright.sync_api import expect

from fangzhou.cases.models import Case
from fangzhou.registry.tests.factories import PASSWORD, World, build_world
from fangzhou.testing.models import Retest, Sample, TubeKind
from fangzhou.testing.services import round_create
from fangzhou.workorders.models import Status, WorkOrder
from tests.browser.conftest import settle, shot, sign_in

TEXT = {
    "zh-hans": {
        "asks": "只有 3/10 份样本",
        "sealed": "封控楼，应上门采样",
        "negative": "复检阴性",
        "confirm": "确认确诊",
        "single": "单采复查",
    },
    "en": {
        "asks": "holds only 3 of 10",
        "sealed": "Sealed building: sample at the door",
        "negative": "Re-test negative",
        "confirm": "Yes, confirm the case",
        "single": "Single-tube re-test",
    },
}


@pytest.fixture
def live_world(transactional_db: None) -> World:
    cache.clear()
    return build_world()


def _find(page: Any, query: str) -> None:
    page.fill("#q", query)
    page.press("#q", "Enter")
    expect(page.locator("#results")).to_contain_text(query if not query.isdigit() else "")


def _upload(page: Any, base: str, round_id: int, tmp: Path, rows: list[str]) -> None:
    path = tmp / f"lab-{len(rows)}-{rows[0][:8]}.csv"
    path.write_text("试管编码,检测结果,检测时间\n" + "\n".join(rows) + "\n", encoding="utf-8")
    page.goto(f"{base}/testing/r/{round_id}/results/")
    page.set_input_files("input[name=file]", str(path))
    page.click("form.card button.primary")
    expect(page.locator("#report")).to_be_visible()
    assert page.inner_text("#n-rejected") == "0"
    settle(page)


def _single_of(page: Any, world: World, name: str) -> str:
    """The code of the single tube the desk just took (waits for the tap's answer)."""
    settle(page)
    for _ in range(100):
        sample = Sample.objects.filter(resident=world.resident(name), kind=TubeKind.SINGLE).first()
        if sample is not None:
            return sample.tube.code
        page.wait_for_timeout(100)
    raise AssertionError(f"no single tube for {name}")


def _fits(page: Any) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= 390, page.url


@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_the_sampling_desk_from_a_positive_tube_to_a_confirmed_case(
    live_server: Any, phone: Any, live_world: World, tmp_path: Path, language: str
) -> None:
    text = TEXT[language]
    base = live_server.url
    world = live_world
    today = timezone.localdate()
    rnd = round_create(community=world.community, date=today, pool_size=10, actor=world.secretary)
    phone.context.add_cookies([{"name": "django_language", "value": language, "url": base}])
    sign_in(phone, base, "sec", PASSWORD)
    dialogs: list[str] = []
    phone.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.accept()))

    # Pooled sampling: household 3-101 with one tap, then 王秀英; the tube is closed early.
    phone.goto(f"{base}/testing/r/{rnd.pk}/desk/?desk=1")
    _find(phone, "李娜")
    phone.click("#results .desk-row form button")
    expect(phone.locator("#tube-fill")).to_have_text("2/10")
    _find(phone, "王秀英")
    phone.click("#results .desk-row button.primary")
    expect(phone.locator("#tube-fill")).to_have_text("3/10")
    expect(phone.locator("#results .tag.done")).to_be_visible()  # the list follows: sampled, no button
    _fits(phone)
    shot(phone, f"desk-{language}-tube-open")
    phone.click(".tube-card form button")
    expect(phone.locator("#tube .flash")).to_be_visible()
    assert len(dialogs) == 1 and text["asks"] in dialogs[0]  # asked once, and only once
    settle(phone)
    tube = Sample.objects.get(resident=world.resident("张伟")).tube
    assert tube.kind == TubeKind.POOLED and Sample.objects.filter(tube=tube).count() == 3

    # The lab: the tube is positive; its three members are on the re-test list.
    _upload(phone, base, rnd.pk, tmp_path, [f"{tube.code},阳性,{today.isoformat()} 20:00"])
    phone.goto(f"{base}/testing/c/{world.community.code}/")
    expect(phone.locator("#retests .retest-row")).to_have_count(3)
    _fits(phone)
    shot(phone, f"desk-{language}-retest-list")

    # Single-tube re-tests at the desk for 张伟 and 李娜.
    phone.goto(f"{base}/testing/r/{rnd.pk}/desk/?desk=1")
    singles = {}
    for name in ("张伟", "李娜"):
        _find(phone, name)
        button = phone.locator("#results .desk-row button.primary")
        expect(button).to_have_text(text["single"])
        button.click()
        single = _single_of(phone, world, name)
        expect(phone.locator("#tube .flash.success")).to_contain_text(single)
        singles[name] = single
    shot(phone, f"desk-{language}-single-tube")
    _upload(
        phone,
        base,
        rnd.pk,
        tmp_path,
        [f"{singles['张伟']},阳性,{today.isoformat()} 21:00", f"{singles['李娜']},阴性,{today.isoformat()} 21:00"],
    )

    # 李娜's door order closed itself: nobody is sent to a cleared door, and the order says why.
    li_order = WorkOrder.objects.get(kind="retest", resident=world.resident("李娜"))
    assert li_order.status == Status.DONE
    phone.goto(f"{base}/orders/{li_order.pk}/")
    expect(phone.locator(".closed-why")).to_contain_text(text["negative"])
    shot(phone, f"desk-{language}-order-closed")

    # 王秀英 is still on the list: the committee confirms her case from it in one step.
    phone.goto(f"{base}/testing/c/{world.community.code}/")
    expect(phone.locator("#retests .retest-row")).to_have_count(1)
    phone.click("#retests .confirm-case-link")
    expect(phone.locator("#confirm-case")).to_have_text(text["confirm"])
    assert tube.code in phone.inner_text(".confirm-case")
    _fits(phone)
    shot(phone, f"desk-{language}-confirm-case")
    phone.click("#confirm-case")
    phone.wait_for_url(f"{base}/cases/*/")
    settle(phone)
    wang = world.resident("王秀英")
    assert Case.objects.filter(resident=wang).count() == 1
    assert Retest.objects.get(resident=wang).status == Retest.Status.CONFIRMED
    assert len(dialogs) == 1  # the confirm page asked; no second question
    shot(phone, f"desk-{language}-case")

    # The compound is sealed now: 刘洋 of 5号楼 is stopped at the desk and sent to the door list.
    phone.goto(f"{base}/testing/r/{rnd.pk}/desk/?desk=1")
    _find(phone, "刘洋")
    expect(phone.locator("#results .sealed-stop")).to_contain_text(text["sealed"])
    assert phone.locator("#results button.primary").count() == 0
    _fits(phone)
    shot(phone, f"desk-{language}-sealed-stop")
    phone.click("#results .sealed-stop a.primary")
    expect(phone.locator(f"#b{world.b5.pk}")).to_contain_text("刘洋")
    shot(phone, f"desk-{language}-door-list")
    settle(phone)
    assert not Sample.objects.filter(resident__name="刘洋").exists()
