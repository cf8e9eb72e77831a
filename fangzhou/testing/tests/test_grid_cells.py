"""The community antigen grid's cells, written in one pass, are the markup the template loop wrote."""

from __future__ import annotations

from django.template import engines

from fangzhou.testing.selectors import HouseholdCell
from fangzhou.testing.templatetags.antigen_grid import antigen_cells

LOOP = '{% for c in cells %}<span class="cell {{ c.state }}" title="{{ c.room }}">{{ c.room }}</span>{% endfor %}'


def test_the_cells_are_what_the_template_loop_wrote_escaped_alike() -> None:
    cells = [
        HouseholdCell(1, "101", members=3, reported=3, positive=0),  # all negative
        HouseholdCell(2, "102", members=3, reported=1, positive=0),  # partly
        HouseholdCell(3, "201", members=2, reported=2, positive=1),  # positive
        HouseholdCell(4, "202", members=2, reported=0, positive=0),  # not yet
        HouseholdCell(5, "3<0\"1'&", members=1, reported=0, positive=0),  # a room typed oddly
    ]
    written = antigen_cells(cells)
    assert written == engines["django"].from_string(LOOP).render({"cells": cells})
    assert 'class="cell negative"' in written and 'class="cell partial"' in written
    assert 'class="cell positive"' in written and 'class="cell none"' in written
    assert "<0" not in written and "3&lt;0&quot;1&#x27;&amp;" in written
