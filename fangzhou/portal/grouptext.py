"""The building leader's WeChat group text: a notice as a plain message to paste into the
building's group, and the same words for the A4 door notice. Plain Python (no Django, no model):
the view gathers the words, this puts them together and takes out what must not be there.

What a group text may carry: the notice's words, the room numbers it went to (only for kinds that
say nothing about anyone's health), the building's public QR link, the committee's name and the
date. Never a name, a phone or an ID number (issue 14; docs/security.md).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

# Kinds whose rooms may be named in a group: they say nothing about a person's health. For every
# other kind (a pooled positive, a result, a re-test, a discharge ...) the text says only that the
# households concerned were told on their own page: a room in a group is a person to neighbours.
ROOMS_SAFE_KINDS = frozenset({"delivery_done", "sampling_time", "custom"})

# An ID number (15 or 18 characters), a mainland mobile, a landline with its area code, a Hong
# Kong or Macao number: whatever slipped into a typed notice leaves as stars.
_PERSONAL = re.compile(r"(?<!\d)(\d{17}[\dXx]|\d{15}|1[3-9]\d{9}|0\d{2,3}-?\d{7,8}|\+?85[23][ -]?\d{8})(?![\dXx])")


@dataclass(frozen=True)
class GroupText:
    title: str  # "华新一村 5号楼 通知"
    body: str  # the notice's words, scrubbed
    rooms: list[str]  # the rooms named (empty when the kind may not name them)
    rooms_line: str
    link: str
    footer: str
    english: str = ""  # the notice's English words, scrubbed the same way (a second message, if wanted)

    @property
    def text(self) -> str:
        """The message to paste, paragraphs separated by a blank line."""
        parts = [f"【{self.title}】", self.body]
        if self.rooms_line:
            parts.append(self.rooms_line)
        parts.append(self.link)
        parts.append(self.footer)
        return "\n\n".join(p for p in parts if p)


def scrub(text: str, names: Iterable[str]) -> str:
    """``text`` without any of ``names`` (longest first, so 欧阳娜娜 goes before 欧阳) and with any
    phone or ID number masked."""
    for name in sorted({n.strip() for n in names if n and len(n.strip()) >= 2}, key=len, reverse=True):
        text = text.replace(name, "**")
    return _PERSONAL.sub(lambda m: "*" * len(m.group(0)), text)


def group_text(
    *,
    kind: str,
    building_label: str,
    body: str,
    english: str,
    rooms: list[str],
    names: Iterable[str],
    link_label: str,
    link: str,
    footer: str,
    rooms_label: str,
    told_label: str,
) -> GroupText:
    """Put the message together. ``names`` are the building's residents' names, to take out."""
    names = list(names)
    words = scrub(body, names)
    other = scrub(english, names)
    if other == words:
        other = ""
    shown = rooms if kind in ROOMS_SAFE_KINDS and rooms else []
    if shown:
        rooms_line = f"{rooms_label}{'、'.join(shown)}"
    elif rooms:
        rooms_line = told_label
    else:
        rooms_line = ""
    return GroupText(
        title=building_label,
        body=words,
        rooms=shown,
        rooms_line=rooms_line,
        link=f"{link_label}\n{link}",
        footer=footer,
        english=other,
    )
