"""Chinese first: every UI string has a Chinese translation, and each compiled catalogue is current.

The project catalogue lives in ``fangzhou/locale``; each app may keep its own in
``fangzhou/<app>/locale`` (Django merges them), so that apps are translated independently.
"""

from __future__ import annotations

from pathlib import Path

import polib
import pytest
from django.utils import translation

ROOT = Path(__file__).resolve().parents[1]
CATALOGUES = sorted(ROOT.glob("**/locale/zh_Hans/LC_MESSAGES/django.po"))


@pytest.mark.parametrize("po_path", CATALOGUES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_message_is_translated_and_compiled(po_path: Path) -> None:
    po = polib.pofile(str(po_path))
    untranslated = [e.msgid for e in po if not e.obsolete and not e.translated()]
    assert untranslated == []
    assert not [e.msgid for e in po if "fuzzy" in e.flags]
    mo = polib.mofile(str(po_path.with_suffix(".mo")))
    source = {e.msgid: e.msgstr or e.msgstr_plural.get(0) for e in po if e.translated() and not e.obsolete}
    compiled = {e.msgid: e.msgstr or e.msgstr_plural.get(0) for e in mo if e.msgid}
    assert compiled == source, f"recompile: cd {po_path.parents[3]} && django-admin compilemessages"


def test_chinese_is_the_default_and_english_available() -> None:
    assert CATALOGUES
    with translation.override("zh-hans"):
        assert translation.gettext("Sign in") == "登录"
    with translation.override("en"):
        assert translation.gettext("Sign in") == "Sign in"


@pytest.mark.django_db
def test_chinese_even_when_the_phone_asks_for_english(client: object) -> None:
    from django.test import Client

    assert isinstance(client, Client)
    page = client.get("/accounts/login/", HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9").content.decode()
    assert "登录" in page
    client.cookies["django_language"] = "en"
    assert "Sign in" in client.get("/accounts/login/").content.decode()
