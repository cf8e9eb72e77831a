"""Chinese first: every UI string has a Chinese translation, and the compiled catalogue is current."""

from __future__ import annotations

from pathlib import Path

import polib
from django.utils import translation

LOCALE = Path(__file__).resolve().parents[1] / "locale" / "zh_Hans" / "LC_MESSAGES"


def test_every_message_is_translated() -> None:
    po = polib.pofile(str(LOCALE / "django.po"))
    untranslated = [e.msgid for e in po if not e.obsolete and not e.translated()]
    assert untranslated == []
    assert not [e.msgid for e in po if "fuzzy" in e.flags]


def test_compiled_catalogue_matches_the_source() -> None:
    po = polib.pofile(str(LOCALE / "django.po"))
    mo = polib.mofile(str(LOCALE / "django.mo"))
    source = {e.msgid: e.msgstr or e.msgstr_plural.get(0) for e in po if e.translated() and not e.obsolete}
    compiled = {e.msgid: e.msgstr or e.msgstr_plural.get(0) for e in mo if e.msgid}
    assert compiled == source, "run: cd fangzhou && django-admin compilemessages"


def test_chinese_is_the_default_and_english_available() -> None:
    with translation.override("zh-hans"):
        assert translation.gettext("Sign in") == "登录"
    with translation.override("en"):
        assert translation.gettext("Sign in") == "Sign in"
