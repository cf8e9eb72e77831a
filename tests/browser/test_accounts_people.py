"""The committee's accounts page on a phone (390 px), in Chinese and in English, on the demo:
the secretary creates a building leader and gives them a sign-in link, disables another account and
names a deputy; the new leader signs in with the link; the officer signs in and lands on the
subdistrict table (counts), never on a page of named patients."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from playwright.sync_api import expect

from fangzhou.accounts.models import Deputy, Role, User
from fangzhou.registry.demo import demo_seed
from fangzhou.registry.models import Building, Community
from tests.browser.conftest import PHONE, shot, sign_in

TEXT = {
    "zh-hans": {
        "created": "已建立",
        "disabled": "已停用",
        "deputy": "代理书记：",
        "officer_nav": "街道汇总",
        "leader_nav": "工单",
    },
    "en": {
        "created": "created",
        "disabled": "Sign-in disabled",
        "deputy": "Acting secretary:",
        "officer_nav": "Subdistrict table",
        "leader_nav": "Work orders",
    },
}


@pytest.fixture
def demo(transactional_db: None) -> dict[str, str]:
    result = demo_seed(size="small")
    return {username: password for username, _, password, _ in result.accounts}


def _context(browser: Any, base: str, lang: str) -> Any:
    context = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True, locale="zh-CN")
    context.add_cookies([{"name": "django_language", "value": lang, "url": base}])
    page = context.new_page()
    page.set_default_timeout(15000)
    return context, page


def _fits(page: Any) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"], page.url


@pytest.mark.parametrize("lang", ["zh-hans", "en"])
def test_the_secretary_runs_accounts_and_the_officer_lands_on_counts(
    live_server: Any, browser: Any, demo: dict[str, str], lang: str
) -> None:
    base = live_server.url
    words = TEXT[lang]
    community = Community.objects.get()
    context, page = _context(browser, base, lang)
    sign_in(page, base, "secretary", demo["secretary"])
    page.goto(f"{base}/accounts/people/")
    _fits(page)
    shot(page, f"accounts-people-{lang}")

    # 1. A new building leader for one building, named with its compound.
    building = Building.objects.filter(community=community).select_related("compound").order_by("pk")[3]
    page.locator("#new-account summary").click()
    form = page.locator("#new-account form")
    form.locator("select[name=role]").select_option(Role.BUILDING_LEADER.value)
    form.locator("input[name=username]").fill(f"leader-{lang}")
    form.locator("input[name=display_name]").fill("韩楼长")
    form.locator("select[name=buildings]").select_option(str(building.pk))
    assert str(building) in form.locator("select[name=buildings]").inner_text()  # compound + number
    form.locator("button").click()
    page.wait_for_load_state("networkidle")
    expect(page.locator(".flash").first).to_contain_text(words["created"])
    made = User.objects.get(username=f"leader-{lang}")
    assert list(made.buildings.all()) == [building] and not made.has_usable_password()

    # 2. Their sign-in link, shown once with its QR code; they open it on their own phone.
    page.locator(f"#person-{made.pk} form[action$='/link/'] button").click()
    page.wait_for_load_state("networkidle")
    assert page.locator(".qr-code svg").count() == 1
    url = page.locator(".mono").inner_text().strip()
    assert re.search(r"/accounts/link/[\w-]+/$", url)
    _fits(page)
    shot(page, f"accounts-link-{lang}")
    leader_context, leader = _context(browser, base, lang)
    leader.goto(url)
    new_password = "lantern-river-courtyard-7"
    leader.fill("input[name=new_password1]", new_password)
    leader.fill("input[name=new_password2]", new_password)
    leader.locator("form button").last.click()
    leader.wait_for_load_state("networkidle")
    assert "/accounts/" not in leader.url  # signed in, on their day's first page
    expect(leader.locator("nav.sections")).to_contain_text(words["leader_nav"])
    leader_context.close()

    # 3. Another account disabled: asked once, then signed out everywhere.
    page.goto(f"{base}/accounts/people/")
    grid = User.objects.get(username="gridleader")
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator(f"#person-{grid.pk} form[action$='/disable/'] button").click()
    expect(page.locator(f"#person-{grid.pk}")).to_contain_text(words["disabled"])
    assert not User.objects.get(pk=grid.pk).is_active

    # 4. The deputy while the secretary is isolated: a week, shown on the overview.
    worker = User.objects.get(username="socialworker")
    until = dt.datetime.now() + dt.timedelta(days=7)
    page.locator("#deputy summary").click()
    deputy_form = page.locator("#deputy form").last
    deputy_form.locator("select[name=deputy]").select_option(str(worker.pk))
    deputy_form.locator("input[name=ends_at]").fill(until.strftime("%Y-%m-%dT%H:%M"))
    deputy_form.locator("button").click()
    page.wait_for_load_state("networkidle")
    assert Deputy.objects.get(revoked_at__isnull=True).deputy == worker
    expect(page.locator("#deputy")).to_contain_text(worker.display_name)
    _fits(page)
    shot(page, f"accounts-deputy-{lang}")
    page.goto(f"{base}/c/{community.code}/")
    line = page.locator("#deputy-line")
    expect(line).to_contain_text(words["deputy"])
    expect(line).to_contain_text(worker.display_name)
    expect(line).to_contain_text(until.strftime("%Y-%m-%d"))
    shot(page, f"accounts-overview-deputy-{lang}")
    context.close()

    # 5. The officer signs in and lands on the subdistrict table: counts, no named patients.
    officer_context, officer = _context(browser, base, lang)
    sign_in(officer, base, "subdistrict", demo["subdistrict"])
    assert officer.url.endswith("/reports/")
    sections = officer.locator("nav.sections").first
    expect(sections).to_contain_text(words["officer_nav"])
    for committee_only in ("/testing/", "/cases/", "/care/", "/supplies/", "/volunteers/"):
        assert sections.locator(f"a[href*='{committee_only}']").count() == 0, committee_only
    assert community.name in officer.inner_text("main")
    _fits(officer)
    shot(officer, f"accounts-officer-landing-{lang}")
    officer_context.close()
