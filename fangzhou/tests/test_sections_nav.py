"""The section bar of every signed-in page is made once per role, community and language and then
reused: what each person sees must be what their role, the page's community and their language
give, whoever asked before them."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from fangzhou.accounts.models import Role
from fangzhou.accounts.services import user_upsert
from fangzhou.registry.tests.factories import PASSWORD, World

pytestmark = pytest.mark.django_db


def _bar(client: Client, path: str) -> str:
    page = client.get(path)
    assert page.status_code == 200, path
    found = re.search(r'<nav class="sections" aria-label="[^"]*">(.*?)</nav>', page.content.decode(), re.S)
    assert found is not None
    return found.group(1)


def _signed_in(user: object, language: str = "zh-hans") -> Client:
    client = Client()
    client.force_login(user)  # type: ignore[arg-type]
    client.cookies["django_language"] = language
    return client


def test_each_role_community_and_language_gets_its_own_bar(world: World) -> None:
    admin = user_upsert(username="root2", password=PASSWORD, role=Role.ADMIN)
    other = user_upsert(username="sec2", password=PASSWORD, role=Role.SECRETARY, community=world.other)
    secretary = _signed_in(world.secretary)
    english = _signed_in(world.secretary, "en")
    officer = _signed_in(world.officer)
    volunteer = _signed_in(world.volunteer)
    mine = f"/c/{world.community.code}/"
    for _ in range(2):  # the second time from the memo: the same bars
        zh = _bar(secretary, mine)
        assert f'href="/c/{world.community.code}/"' in zh and "总览" in zh and "Overview" not in zh
        assert "志愿者" in zh  # the committee's links
        en = _bar(english, mine)
        assert "Overview" in en and "总览" not in en
        assert f'href="/c/{world.community.code}/"' in en
        assert world.community.code not in _bar(officer, "/reports/")
        assert "Subdistrict table" in _bar(_signed_in(world.officer, "en"), "/reports/")
        vol = _bar(volunteer, "/orders/")
        assert "我的配送" in vol and "总览" not in vol
        # Another community's secretary: her own community's links, not the first one's.
        theirs = _bar(_signed_in(other), f"/c/{world.other.code}/")
        assert f'href="/c/{world.other.code}/"' in theirs and f"/c/{world.community.code}/" not in theirs
        # An administrator's bar shows the moves; a secretary's does not.
        assert "迁移审批" in _bar(_signed_in(admin), mine) and "迁移审批" not in zh
