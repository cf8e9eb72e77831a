"""No internal code ever reaches a person: every page of the demo, as each demo role, in zh-hans.

The walk signs in as each role of the demo's first community (and the subdistrict officer and the
administrator), fills every GET route's parameters with the demo's ids (the table of
``test_outsider_routes``) and reads the visible text of each HTML page (text nodes, placeholders,
titles, aria labels; not scripts or styles, nor text an element marks ``lang="en"`` on purpose,
such as the English half of a bilingual refusal). It fails on

- a raw enum value: the stored value of any TextChoices of any model, shown as a word of its own
  ("pending", "door_to_door"), and
- untranslated English: an ASCII word of four letters or more that is not a name, a unit or an
  abbreviation people use as such (``ALLOWED``).
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from django.apps import apps
from django.db.models import Model
from django.test import Client
from django.urls import get_resolver

from fangzhou.accounts.models import Role, User
from fangzhou.demo import demo_operations
from fangzhou.registry.demo import demo_seed
from fangzhou.registry.models import Community
from fangzhou.tests.test_every_route import PUBLIC, _routes
from fangzhou.tests.test_outsider_routes import _concrete, _ensure_swap_block_and_override, _ids

pytestmark = pytest.mark.django_db

# Words a Chinese page may show as they are: abbreviations and names people use untranslated.
ALLOWED = {
    "PCR", "QR", "Excel", "XLSForm", "PDF", "CSV", "XLSX", "xlsx", "csv", "pdf", "ORF1ab", "WeChat", "English",
    "Fangzhou", "HXDEMO", "OTHER1", "YYYY", "htmx", "Unicode", "UTF-8", "UTF", "API", "JSON", "OpenAPI",
    "Chromium", "Noto", "Sans", "CJK", "Leaflet", "OpenStreetMap", "PyVRP",
}  # fmt: skip
KEBAB = re.compile(r"(?<![A-Za-z0-9_@./:-])[a-z]{3,}(?:-[a-z0-9]+)+(?![A-Za-z0-9_@/:-])")
WORD = re.compile(r"(?<![A-Za-z0-9_@./:-])[A-Za-z][A-Za-z_]{3,}(?![A-Za-z0-9_@/:-])")
SKIP_TAGS = {"script", "style", "template", "noscript", "code"}
ATTRS = ("placeholder", "title", "aria-label", "alt")


class _Visible(HTMLParser):
    """Visible text of a page, leaving out scripts, styles and what is marked lang="en"."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, bool]] = []
        self.parts: list[str] = []

    def _hidden(self) -> bool:
        return any(tag in SKIP_TAGS or english for tag, english in self.stack)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        english = (values.get("lang") or "").startswith("en")
        void = tag in {"input", "img", "br", "hr", "meta", "link", "source", "area", "col", "wbr"}
        if not self._hidden() and not english:
            self.parts.extend(str(values[a]) for a in ATTRS if values.get(a))
            if tag == "input" and values.get("type") in {"submit", "button"} and values.get("value"):
                self.parts.append(str(values["value"]))
        if not void:
            self.stack.append((tag, english))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if not self._hidden():
            self.parts.extend(str(values[a]) for a in ATTRS if values.get(a))

    def handle_endtag(self, tag: str) -> None:
        for i in range(len(self.stack) - 1, -1, -1):
            if self.stack[i][0] == tag:
                del self.stack[i:]
                break

    def handle_data(self, data: str) -> None:
        if not self._hidden() and data.strip():
            self.parts.append(data)


def visible_text(html: str) -> str:
    parser = _Visible()
    parser.feed(html)
    return "\n".join(parser.parts)


def enum_values() -> set[str]:
    """Every stored value of every choices field of every model that reads like a word."""
    values: set[str] = set()
    model: type[Model]
    for model in apps.get_models():
        if not model.__module__.startswith("fangzhou."):
            continue
        for field in model._meta.get_fields():
            for value, _label in getattr(field, "flatchoices", None) or []:
                if isinstance(value, str) and re.fullmatch(r"[a-z][a-z0-9_-]{2,}", value):
                    values.add(value)
    return values


def findings(text: str, codes: set[str], allowed: set[str] = ALLOWED) -> list[str]:
    """Each finding with a few words around it, so the report says where to look."""
    found: list[str] = []

    def around(start: int, end: int) -> str:
        return " ".join(text[max(0, start - 30) : end + 30].split())

    for match in WORD.finditer(text):
        word = match[0]
        if word in allowed or word.isupper():  # names, abbreviations, references such as "NRTVUW"
            continue
        kind = "enum" if word in codes else "English"
        found.append(f"{kind} {word!r} in «{around(match.start(), match.end())}»")
    for match in KEBAB.finditer(text):  # a machine name such as a rule set's "shanghai-2022-04"
        found.append(f"code {match[0]!r} in «{around(match.start(), match.end())}»")
    for match in re.finditer(r"(?<![A-Za-z])(?:inf|nan|None)(?![A-Za-z])", text):  # a number that is not one
        found.append(f"not a number {match[0]!r} in «{around(match.start(), match.end())}»")
    for code in codes:
        if len(code) < 4:
            for match in re.finditer(rf"(?<![A-Za-z0-9_-]){re.escape(code)}(?![A-Za-z0-9_-])", text):
                found.append(f"enum {code!r} in «{around(match.start(), match.end())}»")
    return found


def _users(community: Community) -> list[User]:
    roles = [Role.SECRETARY, Role.SOCIAL_WORKER, Role.GRID_LEADER, Role.BUILDING_LEADER, Role.VOLUNTEER]
    users = [u for r in roles if (u := User.objects.filter(community=community, role=r).order_by("pk").first())]
    users += list(User.objects.filter(role__in=[Role.SUBDISTRICT_OFFICER, Role.ADMIN]).order_by("pk"))
    return users


def _get_routes() -> list[str]:
    skip = ("api/", "admin/", "static/", "media/", "healthz", "readyz", "i18n/", "logout", "accounts/logout")
    return [r for r in _routes(get_resolver()) if r not in PUBLIC and not r.lstrip("^").startswith(skip)]


@pytest.mark.timeout(900)
def test_no_page_shows_an_internal_code_or_english_in_chinese() -> None:
    demo_seed(size="small")
    community = Community.objects.get(code="HXDEMO")
    demo_operations(community=community)
    _ensure_swap_block_and_override(community)
    ids = _ids(community)
    codes = enum_values()
    allowed = ALLOWED | set(User.objects.values_list("username", flat=True))  # a login name is typed as it is
    report: dict[str, set[str]] = {}
    pages = 0
    for user in _users(community):
        client = Client()
        client.force_login(user)
        for route in _get_routes():
            url = _concrete(route, ids)
            response = client.get(url)
            if response.status_code != 200 or "text/html" not in response.get("Content-Type", ""):
                continue
            pages += 1
            for finding in findings(visible_text(response.content.decode()), codes, allowed):
                report.setdefault(finding, set()).add(f"{user.role}:{url}")
    assert pages > 40  # the walk reached the pages
    lines = [f"{f}  ← {', '.join(sorted(where)[:3])}" for f, where in sorted(report.items())]
    assert not report, f"{len(report)} internal codes or English words on zh-hans pages:\n" + "\n".join(lines)
