from __future__ import annotations

from typing import Any

from django import template

from fangzhou.notices.selectors import counts_display

register = template.Library()


@register.inclusion_tag("notices/_counts.html")
def counts_of(counts: dict[str, dict[str, int]]) -> dict[str, Any]:
    """A notice's deliveries per channel and status, in the reader's language."""
    return {"counts": counts_display(counts)}
