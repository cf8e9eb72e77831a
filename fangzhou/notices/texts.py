"""The notices' texts, zh-hans and English, rendered in the reader's language.

Built-in kinds have their template here (gettext, with named variables); a hand-written notice
carries its own two texts. The notices room (issue 14) fills in the kinds.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import get_language
from django.utils.translation import gettext as _

TEMPLATES: dict[str, Any] = {}


def notice_text(notice: Any) -> str:
    """The notice in the active language: the kind's template with its args, or the typed text."""
    if notice.kind == "custom":
        english = (get_language() or "zh-hans").startswith("en")
        return str((notice.text_en if english and notice.text_en else notice.text_zh) or notice.text_en)
    template = TEMPLATES.get(notice.kind)
    if template is None:
        return _("A notice from your residents' committee")
    return str(template()) % {**notice.args}
