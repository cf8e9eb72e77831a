"""The community antigen grid's cells, thousands on one page, written in one pass.

Through the template language each cell cost three variable look-ups, three escapes and a loop
step: the grid of a 6,500-resident community (2,400 cells) took 8–10× the time of a plain table
of the same cells (``bench/grid_render.py``). The markup is the same; the room is escaped here
and the state is one of :data:`~fangzhou.testing.selectors.CELL_STATES`.
"""

from __future__ import annotations

from collections.abc import Iterable
from html import escape

from django import template
from django.utils.safestring import SafeString, mark_safe

from fangzhou.testing.selectors import CELL_STATES, HouseholdCell

register = template.Library()

_STATES = frozenset(CELL_STATES)


@register.filter
def antigen_cells(cells: Iterable[HouseholdCell]) -> SafeString:
    """``<span class="cell STATE" title="ROOM">ROOM</span>`` for each household, in order."""
    parts = []
    for cell in cells:
        state = cell.state
        if state not in _STATES:  # pragma: no cover - the property returns one of them
            state = "none"
        room = escape(cell.room)
        parts.append(f'<span class="cell {state}" title="{room}">{room}</span>')
    return mark_safe("".join(parts))  # noqa: S308 - every value above is escaped or from a fixed set
