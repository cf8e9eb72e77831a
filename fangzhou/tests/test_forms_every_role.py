"""Every form a role is shown, sent as it stands, answers them; and the subdistrict officer, who
reads counts and changes nothing (``accounts.permissions.is_officer``), changes nothing with one.

Walked as the officer, from their home page a few taps deep: every form the officer is shown that
posts is sent as it stands (its hidden fields, the values it shows, the first choice of each list),
as a tired person tapping its button would. Not one row of the database may change, and no post
may answer 500. A form the officer is shown but may not use is a button that misleads; one they
may use is a change made by someone whose job is counts (the kit form of a building's antigen page
was both, until it was found this way). What the officer is there to change is named in
``ALLOWED``."""

from __future__ import annotations

import re
from collections import deque
from html.parser import HTMLParser
from typing import Any

import pytest
from django.apps import apps
from django.test import Client

from fangzhou.registry.tests.factories import World, build_world, place
from fangzhou.workorders.models import Kind, ResidentRequest, WorkOrder
from fangzhou.workorders.services import resident_request_submit, work_order_create

HREF = re.compile(r'<a\b[^>]*\bhref="(/[^"#]*)"')
SKIP = re.compile(r"^/(accounts/logout|i18n/|static/|media/)|\.(xlsx|csv|pdf|png|jpg|zip)$|/export|/download|/print")
# Not the officer's data: their own session, sign-in bookkeeping and the language they chose.
NOT_DATA = {"sessions.session", "axes.accessattempt", "axes.accesslog", "axes.accessfailurelog"}
# What the officer is there to change: the secretaries' accounts of the subdistrict
# (``accounts.permissions``), the decision on a resident's transfer out of a community, and a
# resident's request passed down from the subdistrict (a hotline call) into a community's queue.
ALLOWED = re.compile(r"^/(accounts/people/|transfers/|orders/requests/new/)")
DEPTH = 5
CAP = 500


class _Forms(HTMLParser):
    """The forms of a page that post, each as (action, fields with the values it would send)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[tuple[str, dict[str, str]]] = []
        self._form: tuple[str, dict[str, str]] | None = None
        self._select: str | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            action = a.get("hx-post") or (a.get("action", "") if a.get("method", "").lower() == "post" else "")
            if a.get("method", "").lower() == "post" or a.get("hx-post"):
                self._form = (action, {})
            return
        if self._form is None:
            return
        fields = self._form[1]
        name = a.get("name", "")
        if tag == "input" and name:
            kind = a.get("type", "text").lower()
            if kind == "file" or (kind in ("checkbox", "radio") and "checked" not in a):
                return
            if kind in ("submit", "button", "image"):
                return
            fields.setdefault(name, a.get("value", "on" if kind in ("checkbox", "radio") else ""))
        elif tag == "select" and name:
            self._select = name
        elif tag == "option" and self._select is not None:
            if self._select not in fields or "selected" in a:
                fields[self._select] = a.get("value", "")
        elif tag == "textarea" and name:
            self._textarea = name
            fields.setdefault(name, "")

    def handle_data(self, data: str) -> None:
        if self._form is not None and self._textarea is not None:
            self._form[1][self._textarea] += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None
        elif tag == "form" and self._form is not None:
            self.forms.append(self._form)
            self._form = None


def _fingerprint() -> dict[str, int]:
    """Each table's rows, as one hash per model (the test world is small)."""
    out = {}
    for model in apps.get_models():
        label = model._meta.label_lower
        if label in NOT_DATA:
            continue
        rows = model._default_manager.order_by("pk").values_list()
        out[label] = hash(tuple(tuple(map(str, row)) for row in rows))
    return out


def _walk_and_post(client: Client, *, changes_nothing: bool) -> tuple[list[str], int]:
    seen = {"/"}
    posted: set[str] = set()
    queue = deque([("/", 0)])
    problems: list[str] = []
    while queue and len(seen) < CAP:
        url, depth = queue.popleft()
        answer = client.get(url.replace("&amp;", "&"))
        if answer.status_code in (301, 302, 303):
            target = answer["Location"]
            if target.startswith("/") and target not in seen:
                seen.add(target)
                queue.append((target, depth))
            continue
        if answer.status_code != 200 or "text/html" not in answer.get("Content-Type", ""):
            continue
        page = answer.content.decode()
        parser = _Forms()
        parser.feed(page)
        for action, fields in parser.forms:
            target = (action or url).replace("&amp;", "&")
            if target.startswith(("/accounts/logout", "/i18n/")):
                continue
            key = f"{target} {sorted(fields)}"
            if key in posted:
                continue
            posted.add(key)
            before = _fingerprint() if changes_nothing else {}
            reply: Any = client.post(target, fields)
            after = _fingerprint() if changes_nothing else {}
            changed = sorted(label for label in after if after[label] != before.get(label))
            if changed and not ALLOWED.match(target):
                problems.append(f"{target} (on {url}) changed {changed}")
            if reply.status_code >= 500 or reply.status_code == 403:  # 403: a form shown to be refused
                problems.append(f"{target} (on {url}) answered {reply.status_code}")
        if depth < DEPTH:
            for href in HREF.findall(page):
                if href not in seen and not SKIP.search(href):
                    seen.add(href)
                    queue.append((href, depth + 1))
    return problems, len(posted)


def _busy_world() -> World:
    """The test world with the site plan, an open work order and a resident's request: the forms
    that only appear once there is work (claim, escalate) are shown too."""
    world = place(build_world())
    work_order_create(
        community=world.community, kind=Kind.DISINFECTION, title="消杀3号楼", actor=None, building=world.b3
    )
    resident_request_submit(building=world.b3, kind="food", text="没有菜了", client_id="q" * 32)
    return world


@pytest.mark.django_db
def test_the_officer_changes_nothing_through_any_form_they_are_shown() -> None:
    world = _busy_world()
    client = Client()
    client.force_login(world.officer)
    problems, forms = _walk_and_post(client, changes_nothing=True)
    assert problems == [], "\n".join(problems)
    assert forms >= 1  # the walk reached forms (the search, the language, a page's filters)


@pytest.mark.django_db
@pytest.mark.parametrize("persona", ["secretary", "grid_leader", "leader", "volunteer", "outsider"])
def test_no_role_is_shown_a_form_that_refuses_them(persona: str) -> None:
    """Every form a person is shown, sent as it stands, answers them (an error about what they
    typed is an answer); never 403 (a button they may not use) and never 500."""
    world = _busy_world()
    client = Client()
    client.force_login(getattr(world, persona))
    problems, _forms = _walk_and_post(client, changes_nothing=False)
    assert problems == [], "\n".join(problems)


@pytest.mark.django_db
def test_the_officer_neither_escalates_nor_claims_when_posting_directly() -> None:
    """Hidden is not enough: a post of the officer's own making is refused, and nothing changes."""
    world = _busy_world()
    client = Client()
    client.force_login(world.officer)
    request = ResidentRequest.objects.get()
    refused = client.post(f"/orders/requests/{request.pk}/escalate/")
    assert refused.status_code == 403 and "居委会" in refused.content.decode()
    order = WorkOrder.objects.get(title="消杀3号楼")
    assert client.post(f"/orders/{order.pk}/claim/").status_code == 403
    request.refresh_from_db()
    order.refresh_from_db()
    assert request.escalated_at is None and order.status == "open" and order.assignee_id is None
