"""No page sends a person to a dead end: every link on the pages each role reaches from their home
(two taps deep) opens for them. A link to a page they may not open (a 404 or 403 for them) is a
tap in the stairwell that ends in "not found"."""

from __future__ import annotations

import re
from collections import deque

import pytest
from django.test import Client

from fangzhou.accounts.models import User
from fangzhou.registry.tests.factories import World, build_world, place
from fangzhou.volunteers.tests.helpers import approved

HREF = re.compile(r'<a\b[^>]*\bhref="(/[^"#]*)"')
# Not pages: sign-out, downloads and files (tested where they are made), the language switch.
SKIP = re.compile(r"^/(accounts/logout|i18n/|static/|media/)|\.(xlsx|csv|pdf|png|jpg|zip)$|/export|/download|/print")
DEPTH = 4
CAP = 400


@pytest.fixture
def placed(db: None) -> World:
    return place(build_world())


def _dead_links(user: User) -> tuple[list[tuple[str, str, int]], int]:
    client = Client()
    client.force_login(user)
    seen = {"/"}
    queue = deque([("/", "", 0)])
    dead = []
    while queue and len(seen) < CAP:
        url, found_on, depth = queue.popleft()
        answer = client.get(url.replace("&amp;", "&"))
        if answer.status_code in (403, 404, 405, 500):
            dead.append((url, found_on, answer.status_code))
            continue
        if answer.status_code in (301, 302, 303):
            # A redirect to another page is walked as a link of the same page; one to the dialler
            # (the call button: tel:) ends there.
            target = answer["Location"]
            if target.startswith("/") and target not in seen:
                seen.add(target)
                queue.append((target, found_on, depth))
            continue
        if depth == DEPTH or "text/html" not in answer.get("Content-Type", ""):
            continue
        for href in HREF.findall(answer.content.decode()):
            if href not in seen and not SKIP.search(href):
                seen.add(href)
                queue.append((href, url, depth + 1))
    return dead, len(seen)


@pytest.mark.parametrize("persona", ["secretary", "grid_leader", "leader", "volunteer", "officer", "outsider"])
def test_every_link_a_role_is_shown_opens_for_them(placed: World, persona: str) -> None:
    profile = approved(placed.community, "王芳", "13811110101")  # the committee's lists have one
    profile.user = placed.volunteer  # the volunteer's account is that profile's
    profile.save(update_fields=["user"])
    dead, pages = _dead_links(getattr(placed, persona))
    assert dead == [], "\n".join(map(str, dead))
    assert pages >= 8  # the walk went somewhere: home, the sections and what they list
