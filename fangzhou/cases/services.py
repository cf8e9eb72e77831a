"""Writes for cases. The testing work confirms positives through ``case_confirm``."""

from __future__ import annotations

import datetime as dt

from django.db import IntegrityError, transaction

from fangzhou.accounts.models import AuditLog, User
from fangzhou.cases.models import Case, Source
from fangzhou.registry.models import Resident


def case_confirm(
    *, resident: Resident, report_date: dt.date, source: str, actor: User | None, note: str = ""
) -> tuple[Case, bool]:
    """Record a confirmed case. Idempotent: the same resident and report date give the same case.

    Returns (case, created). Follow-up work (transfer, disinfection, close contacts) hangs off the
    case and is added by the cases work.
    """
    if source not in Source.values:
        raise ValueError(f"unknown case source {source!r}")
    existing = Case.objects.filter(resident=resident, report_date=report_date).first()
    if existing is not None:
        return existing, False
    try:
        with transaction.atomic():
            case = Case.objects.create(
                community_id=resident.community_id,
                resident=resident,
                building_id=resident.household.building_id,
                source=source,
                report_date=report_date,
                note=note,
                created_by=actor,
            )
            AuditLog.objects.create(
                actor=actor,
                action="case.confirm",
                target_type="case",
                target_id=str(case.pk),
                community_id=resident.community_id,
                detail={"resident": resident.pk, "report_date": report_date.isoformat(), "source": source},
            )
    except IntegrityError:
        return Case.objects.get(resident=resident, report_date=report_date), False
    return case, True
