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
