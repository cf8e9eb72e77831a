"""The filters of the long lists (special care, deliveries, work orders, the not-reported list):
one reading of a list's query string, with a clear message in Chinese and English for bad input
(both languages in one text, as the services' refusals are)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection


def building_param(raw: str | None, allowed: Collection[int]) -> tuple[int | None, str]:
    """The building asked for (one of ``allowed``, the buildings the reader sees), or None for
    all; with a message when the value names no such building."""
    if not raw:
        return None, ""
    if raw.isdigit() and int(raw) in allowed:
        return int(raw), ""
    return None, "没有这栋楼，已显示全部楼栋。 / No such building on this list; showing every building."


def date_param(raw: str | None) -> tuple[dt.date | None, str]:
    """The day asked for, or None for any day; with a message when it is not a date."""
    if not raw:
        return None, ""
    try:
        return dt.date.fromisoformat(raw), ""
    except ValueError:
        return None, "日期格式应为 2022-04-28。 / The date must look like 2022-04-28."


def choice_param(raw: str | None, allowed: Collection[str]) -> tuple[str, str]:
    """One of ``allowed`` codes, or "" for all; with a message for any other value."""
    if not raw:
        return "", ""
    if raw in allowed:
        return raw, ""
    return "", "筛选条件无效，已显示全部。 / Unknown filter value; showing everything."
