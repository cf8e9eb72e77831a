"""``{{ result|why }}``, ``{{ need|in_language }}``: a health gate's texts in the reader's language."""

from __future__ import annotations

from typing import Protocol

from django import template
from django.utils import translation

from fangzhou.volunteers.gate import GateResult
from fangzhou.volunteers.selectors import gate_text

register = template.Library()


@register.filter
def why(result: GateResult | None) -> str:
    return gate_text(result) if result is not None else ""


class _Bilingual(Protocol):
    zh: str
    en: str


@register.filter
def in_language(item: _Bilingual) -> str:
    """A text kept in both languages (a gate reason, a need), in the reader's."""
    return item.zh if (translation.get_language() or "zh-hans").startswith("zh") else item.en
