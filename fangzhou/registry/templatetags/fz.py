from __future__ import annotations

from django import template

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
