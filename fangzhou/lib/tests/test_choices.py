"""``get_FOO_display()`` from a table made once per field and language answers what Django's own
answers, in each language, for every value and for one that is not a choice."""

from __future__ import annotations

import pytest
from django.db import models
from django.utils import translation

from fangzhou.workorders.models import CloseReason, Kind, Priority, ResidentRequest, Status, WorkOrder, WorkOrderEvent


@pytest.mark.parametrize("language", ["zh-hans", "en"])
@pytest.mark.parametrize("model", [WorkOrder, WorkOrderEvent, ResidentRequest])
def test_every_label_is_djangos_own_in_each_language(model: type[models.Model], language: str) -> None:
    fields = [f for f in model._meta.concrete_fields if f.choices]
    assert fields
    with translation.override(language):
        for f in fields:
            for value, _ in [*f.flatchoices, ("not-a-choice", ""), (None, "")]:
                row = model(**{f.attname: value})
                mine = getattr(row, f"get_{f.name}_display")()
                assert mine == models.Model._get_FIELD_display(row, f), (f.name, value)  # type: ignore[attr-defined]


def test_the_labels_follow_the_language() -> None:
    order = WorkOrder(status=Status.OPEN, kind=Kind.choices[0][0], priority=Priority.NORMAL)
    order.close_reason = CloseReason.choices[0][0]
    with translation.override("zh-hans"):
        zh = (order.get_status_display(), order.get_priority_display(), order.get_close_reason_display())
    with translation.override("en"):
        en = (order.get_status_display(), order.get_priority_display(), order.get_close_reason_display())
    assert zh != en and all(any("\u4e00" <= ch <= "\u9fff" for ch in label) for label in zh)
    assert all(label.isascii() for label in en)
