"""``{{ result|why }}``: a health gate's reasons in the reader's language."""

from __future__ import annotations

from django import template

from fangzhou.volunteers.gate import GateResult
from fangzhou.volunteers.selectors import gate_text

register = template.Library()


@register.filter
def why(result: GateResult | None) -> str:
    return gate_text(result) if result is not None else ""
