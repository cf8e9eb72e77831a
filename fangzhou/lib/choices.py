"""A field's choice labels in the reader's language, made once per field and language.

Django's ``get_FOO_display()`` hashes every choice of the field on each call, and hashing a lazy
label translates it: a queue of cards, each showing its status, kind and priority, translated
every label of those fields for every card (some 650 translations a page). A model that mixes in
:class:`ChoiceLabels` answers ``get_FOO_display()`` from a table made once per field and language.
"""

from __future__ import annotations

import functools
from typing import Any

from django.db.models import Field
from django.utils.translation import get_language


@functools.lru_cache(maxsize=512)
def _labels(field: Field[Any, Any], language: str | None) -> dict[Any, str]:
    return {value: str(label) for value, label in field.flatchoices}


def choice_label(field: Field[Any, Any], value: Any) -> Any:
    """``value``'s label among ``field``'s choices in the active language (``value`` itself if it
    is not one of them, as Django answers)."""
    try:
        return _labels(field, get_language()).get(value, value)
    except TypeError:  # an unhashable value: not one of the choices
        return value


class ChoiceLabels:
    """Mixed into a model (before ``models.Model``): its ``get_FOO_display()`` read the labels
    from :func:`choice_label`."""

    def _get_FIELD_display(self, field: Field[Any, Any]) -> Any:  # Django's name for it
        return choice_label(field, getattr(self, field.attname))
