"""axe-core over the main pages (the demo, small): no serious or critical violation — colour
contrast of the antigen grid and the zone badges, the site plan's building links reachable, names
and labels. axe-core is vendored for the tests only (tests/browser/vendor/axe-core, MPL-2.0)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from fangzhou.demo import demo_operations
from fangzhou.registry.demo import demo_seed
from fangzhou.registry.models import Building, Community
from tests.browser.conftest import PHONE, sign_in

AXE = (Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js").read_text()
RUN = """() => axe.run(document, {resultTypes: ['violations']}).then(r => r.violations
  .filter(v => v.impact === 'serious' || v.impact === 'critical')
  .map(v => v.id + ': ' + v.nodes.slice(0, 3).map(n => n.html.slice(0, 120)).join(' | ')))"""


@pytest.fixture
def demo(transactional_db: None) -> dict[str, Any]:
    result = demo_seed(size="small")
    community = Community.objects.order_by("pk").first()
    assert community is not None
    demo_operations(community=community)
    building = Building.objects.filter(community=community).exclude(public_token="").order_by("pk").first()
    assert building is not None
    return {
        "passwords": {username: password for username, _, password, _ in result.accounts},
        "code": community.code,
        "building": building,
    }


def _violations(page: Any, url: str) -> list[str]:
    page.goto(url)
    page.wait_for_load_state("networkidle")
    page.evaluate(AXE)
    found: list[str] = page.evaluate(RUN)
    return [f"{url} {v}" for v in found]


def test_the_main_pages_have_no_serious_or_critical_violation(
    live_server: Any, browser: Any, demo: dict[str, Any]
) -> None:
    base, code, building = live_server.url, demo["code"], demo["building"]
    # bypass_csp: axe is injected into the page under test; the pages' own CSP is tested elsewhere.
    context = browser.new_context(viewport=PHONE, locale="zh-CN", bypass_csp=True)
    page = context.new_page()
    page.set_default_timeout(20000)
    found: list[str] = []
    for url in (f"/p/{building.public_token}/", f"/zones/p/{building.public_token}/", "/accounts/login/"):
        found += _violations(page, base + url)
    sign_in(page, base, "secretary", demo["passwords"]["secretary"])
    for url in (
        f"/c/{code}/",
        f"/testing/c/{code}/antigen/",
        f"/testing/b/{building.pk}/antigen/",
        f"/zones/c/{code}/",
        f"/b/{building.pk}/",
        "/orders/",
        "/reports/",
        f"/reports/c/{code}/",
        f"/cases/c/{code}/",
        f"/care/c/{code}/",
        f"/supplies/c/{code}/",
    ):
        found += _violations(page, base + url)
    context.close()
    assert found == []
