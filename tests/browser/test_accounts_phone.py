"""Accounts on a phone: the secretary gives a locked-out building leader a one-time link, the leader
opens it on their own phone, chooses a password and is signed in; every page fits 390 px."""

from __future__ import annotations

import re
from typing import Any

import pytest

from fangzhou.registry.tests.factories import PASSWORD, World, build_world
from tests.browser.conftest import shot, sign_in

NEW_PASSWORD = "lantern-river-courtyard-7"


@pytest.fixture
def live_world(transactional_db: None) -> World:
    return build_world()


def _fits(page: Any) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= 390


def test_a_locked_out_leader_gets_back_in_with_a_link(
    live_server: Any, phone: Any, browser: Any, live_world: World
) -> None:
    base = live_server.url
    # The leader mistypes until locked out.
    leader = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, locale="zh-CN").new_page()
    for _ in range(6):
        sign_in(leader, base, "leader3", "wrong-guess")
    assert "登录失败次数过多" in leader.inner_text("main")
    _fits(leader)
    shot(leader, "accounts-locked-phone")

    # The secretary makes a link from the header's Accounts page.
    sign_in(phone, base, "sec", PASSWORD)
    phone.click("header >> text=账号")
    phone.wait_for_load_state("networkidle")
    _fits(phone)
    phone.locator("li", has_text="leader3").get_by_role("button", name="生成登录链接").click()
    phone.wait_for_load_state("networkidle")
    assert phone.locator(".qr-code svg").count() == 1
    _fits(phone)
    shot(phone, "accounts-link-made-phone")
    match = re.search(r"https?://\S+/accounts/link/[^/\s]+/", phone.inner_text("main"))
    assert match

    # The leader opens it, chooses a password under the policy, and is in.
    leader.goto(match.group(0))
    _fits(leader)
    leader.fill("input[name=new_password1]", "12345678901")
    leader.fill("input[name=new_password2]", "12345678901")
    leader.click("button[type=submit]")
    assert "密码不能全是数字" in leader.inner_text("main")
    leader.fill("input[name=new_password1]", NEW_PASSWORD)
    leader.fill("input[name=new_password2]", NEW_PASSWORD)
    leader.click("button[type=submit]")
    leader.wait_for_load_state("networkidle")
    assert "密码" in leader.inner_text("header")  # signed in: the header offers the password page
    assert leader.url.rstrip("/").endswith("/c/T01")
    shot(leader, "accounts-link-used-phone")

    # The header's "Password" opens the password page, in both languages, and every page still fits.
    for language, label, title in (("zh-hans", "密码", "修改密码"), ("en", "Password", "Change password")):
        leader.context.add_cookies([{"name": "django_language", "value": language, "url": base}])
        leader.goto(base + "/orders/")
        _fits(leader)
        leader.click(f"header >> text={label}")
        leader.wait_for_load_state("networkidle")
        assert title in leader.inner_text("h1")
        _fits(leader)
        phone.context.add_cookies([{"name": "django_language", "value": language, "url": base}])
        phone.goto(base + "/accounts/people/")
        _fits(phone)
    leader.context.close()
