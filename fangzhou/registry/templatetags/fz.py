from __future__ import annotations

import functools
from typing import Any

from django import template
from django.conf import settings
from django.template.loader import get_template
from django.urls import get_script_prefix, get_urlconf
from django.utils.safestring import mark_safe
from django.utils.translation import get_language

from fangzhou.registry.roster import normalize as nz

register = template.Library()


@register.filter
def mask_id(value: str) -> str:
    return nz.mask_id(value or "")


@register.filter
def mask_phone(value: str) -> str:
    return nz.mask_phone(value or "")


@register.filter
def phone_display(value: str) -> str:
    """A stored (E.164) phone as people write it: 13812345678, 021-64318888, +852 6123 4567."""
    return nz.phone_display(value or "")


@register.filter
def special_labels(codes: str) -> list[str]:
    return [nz.SPECIAL_LABELS[c] for c in (codes or "").split(",") if c in nz.SPECIAL_LABELS]


def _luminance(colour: str) -> float:
    """WCAG relative luminance of "#rrggbb"."""
    value = colour.lstrip("#")
    channels = [int(value[i : i + 2], 16) / 255 for i in (0, 2, 4)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


@register.filter
def ink(background: str) -> str:
    """The text colour that reads best on ``background`` (white or near-black), for coloured badges."""
    if not isinstance(background, str) or len(background.lstrip("#")) != 6:
        return "#102030"
    light = _luminance(background)
    on_white = 1.05 / (light + 0.05)
    on_dark = (light + 0.05) / (_luminance("#102030") + 0.05)
    return "#fff" if on_white >= on_dark else "#102030"


# The section bar's flags, in the order they key its memo.
_SECTION_FLAGS = ("is_officer", "is_property", "is_volunteer", "is_committee")


@register.simple_tag(takes_context=True)
def sections_nav(context: template.Context, community: Any) -> str:
    """The section bar of every signed-in page (``_sections.html``): made once per process for
    each role, community and language, then reused (a score of links and labels that depend on
    nothing else: no user's name, no token, no page)."""
    flags = tuple(bool(context.get(name)) for name in _SECTION_FLAGS)
    # An officer's and a volunteer's bar link to no community: it is not even read (a query).
    links_community = not (flags[0] or flags[2])
    code = getattr(community, "code", None) if links_community and community else None
    admin = context.get("user_role") == "admin"
    return _sections(flags, admin, code, get_language(), get_script_prefix(), get_urlconf() or settings.ROOT_URLCONF)


@functools.lru_cache(maxsize=4096)
def _sections(
    flags: tuple[bool, ...], admin: bool, code: str | None, language: str, prefix: str, urlconf: object
) -> str:
    values: dict[str, Any] = dict(zip(_SECTION_FLAGS, flags, strict=True))
    values.update(code=code, user_role="admin" if admin else "")
    return mark_safe(get_template("_sections.html").render(values))  # noqa: S308 - our template, escaped
