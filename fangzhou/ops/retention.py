"""End of life for personal data (PIPL art. 19 and 47): ``fangzhou retention``.

The policy is data: ``settings.FANGZHOU_RETENTION_DAYS`` gives each kind its days after the
community's emergency ended (``ops.EmergencyEnd``); what is done to each kind is fixed below.

The daily report computes its counts live from the rows (``fangzhou.reports.selectors``): deleting
antigen reports, samples or cases would change a past day's counts. Those rows carry no name, no
document and no phone, only the resident they are about, so they are kept and **de-identified**
instead: the residents they name lose their name, ID number, phone, birth date and notes (the
household, the room and the counts stay), and a case loses its free text. Rows that no count reads
(photos, audit rows, receipts, notice deliveries) are **deleted**.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from fangzhou.accounts.audit import AuditAction, audit_record
from fangzhou.accounts.models import ApiReceipt, AuditLog, User
from fangzhou.cases.models import Case, CaseEvent
from fangzhou.lib.errors import Refused
from fangzhou.notices.models import NoticeDelivery
from fangzhou.ops.models import EmergencyEnd
from fangzhou.registry.models import Community, Resident
from fangzhou.supplies.models import Delivery
from fangzhou.testing.models import AntigenReport, AntigenSubmission, Sample
from fangzhou.workorders.models import OutboxReceipt, ResidentRequest, WorkOrder

DEFAULT_DAYS: dict[str, int] = {
    "antigen_reports": 30,
    "pcr_samples": 30,
    "cases": 180,
    "photos": 7,
    "audit": 365,
    "api_receipts": 30,
    "outbox_receipts": 30,
    "notice_deliveries": 30,
}
ACTIONS: dict[str, str] = {
    "antigen_reports": "deidentify",
    "pcr_samples": "deidentify",
    "cases": "deidentify",
    "photos": "delete",
    "audit": "delete",
    "api_receipts": "delete",
    "outbox_receipts": "delete",
    "notice_deliveries": "delete",
}
IDENTITY_BLANK: dict[str, Any] = {
    "name": "",
    "id_number": "",
    "phone": "",
    "phone_kind": "",
    "birth_date": None,
    "note": "",
    "special": "",
    "search_key": "",
}


def policy() -> dict[str, int]:
    """Days after the end of the emergency, per kind (defaults, then ``FANGZHOU_RETENTION_DAYS``)."""
    days = dict(DEFAULT_DAYS)
    days.update({k: v for k, v in settings.FANGZHOU_RETENTION_DAYS.items() if k in DEFAULT_DAYS})
    return days


@dataclass
class CommunityRetention:
    community: str
    ended_on: str | None
    dry_run: bool
    kinds: dict[str, dict[str, Any]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"community": self.community, "ended_on": self.ended_on, "dry_run": self.dry_run, "kinds": self.kinds}


def _not_stripped() -> Q:
    return ~Q(name="") | ~Q(id_number="") | ~Q(phone="")


def _residents_of(community: Community, rows: QuerySet[Any]) -> QuerySet[Resident]:
    return (
        Resident.objects.filter(community=community)
        .filter(Exists(rows.filter(resident_id=OuterRef("pk"))))
        .filter(_not_stripped())
    )


def _strip(residents: QuerySet[Resident], dry_run: bool) -> int:
    if dry_run:
        return residents.count()
    return residents.update(**IDENTITY_BLANK, updated_at=timezone.now())


def _antigen(community: Community, cutoff: dt.datetime, dry_run: bool) -> int:
    reports = AntigenReport.objects.filter(community=community)
    return _strip(_residents_of(community, reports), dry_run)


def _samples(community: Community, cutoff: dt.datetime, dry_run: bool) -> int:
    return _strip(_residents_of(community, Sample.objects.filter(community=community)), dry_run)


def _cases(community: Community, cutoff: dt.datetime, dry_run: bool) -> int:
    cases = Case.objects.filter(community=community)
    stripped = _strip(_residents_of(community, cases), dry_run)
    texts = cases.filter(~Q(note="") | ~Q(site_name=""))
    events = CaseEvent.objects.filter(case__community=community).exclude(detail={})
    if dry_run:
        return stripped + texts.count() + events.count()
    return stripped + texts.update(note="", site_name="") + events.update(detail={})


PHOTO_FIELDS: tuple[tuple[Any, str, str], ...] = (
    (AntigenSubmission, "photo", "community"),
    (Delivery, "photo", "community"),
    (WorkOrder, "completion_photo", "community"),
    (ResidentRequest, "photo", "community"),
)


def _photos(community: Community, cutoff: dt.datetime, dry_run: bool) -> int:
    count = 0
    for model, name, path in PHOTO_FIELDS:
        rows = model.objects.filter(**{path: community}).exclude(**{name: ""}).exclude(**{f"{name}__isnull": True})
        for row in rows.only("pk", name).iterator():
            count += 1
            if not dry_run:
                getattr(row, name).delete(save=False)
        if not dry_run:
            rows.update(**{name: None})
    return count


def _delete(rows: QuerySet[Any], dry_run: bool) -> int:
    return rows.count() if dry_run else rows.delete()[0]


def _audit(community: Community, cutoff: dt.datetime, dry_run: bool) -> int:
    return _delete(AuditLog.objects.filter(community=community, at__lt=cutoff), dry_run)


def _api_receipts(community: Community, cutoff: dt.datetime, dry_run: bool) -> int:
    return _delete(ApiReceipt.objects.filter(token__community=community, at__lt=cutoff), dry_run)


def _outbox(community: Community, cutoff: dt.datetime, dry_run: bool) -> int:
    users = User.objects.filter(community=community)
    return _delete(OutboxReceipt.objects.filter(user__in=users, received_at__lt=cutoff), dry_run)


def _deliveries(community: Community, cutoff: dt.datetime, dry_run: bool) -> int:
    return _delete(NoticeDelivery.objects.filter(community=community, created_at__lt=cutoff), dry_run)


APPLY: dict[str, Callable[[Community, dt.datetime, bool], int]] = {
    "antigen_reports": _antigen,
    "pcr_samples": _samples,
    "cases": _cases,
    "photos": _photos,
    "audit": _audit,
    "api_receipts": _api_receipts,
    "outbox_receipts": _outbox,
    "notice_deliveries": _deliveries,
}


def _due_on(ended_on: dt.date, days: int) -> dt.date:
    return ended_on + dt.timedelta(days=days)


def _kinds(
    community: Community, ended_on: dt.date, today: dt.date, *, dry_run: bool, every_kind: bool = False
) -> dict[str, dict[str, Any]]:
    """Each kind's policy, due day and rows: applied (or, with ``dry_run``, counted) where due; with
    ``every_kind`` (a dry run only) the kinds not yet due are counted too, as of today's rows."""
    assert dry_run or not every_kind
    kinds: dict[str, dict[str, Any]] = {}
    for kind, days in policy().items():
        due = _due_on(ended_on, days)
        entry: dict[str, Any] = {
            "action": ACTIONS[kind],
            "days": days,
            "due_on": due.isoformat(),
            "due": today >= due,
            "rows": 0,
        }
        if entry["due"] or every_kind:
            cutoff = dt.datetime.combine(due, dt.time.min, tzinfo=community.tzinfo)
            entry["rows"] = APPLY[kind](community, cutoff, dry_run)
        kinds[kind] = entry
    return kinds


def community_today(community: Community) -> dt.date:
    """Today on the community's clock: the day an end is declared and retention is due on."""
    return timezone.localtime(timezone=community.tzinfo).date()


def retention_community(
    community: Community, *, dry_run: bool, today: dt.date | None = None, actor: User | None = None
) -> CommunityRetention:
    """Apply (or, with ``dry_run``, count) every kind that is due in ``community``; audited when real."""
    today = today or community_today(community)
    with transaction.atomic():
        ends = EmergencyEnd.objects.filter(community=community)
        # A real run holds the end while it works: a withdrawal waits for it, and it sees a withdrawal made before.
        end = (ends if dry_run else ends.select_for_update()).first()
        report = CommunityRetention(community.code, end.ended_on.isoformat() if end else None, dry_run)
        if end is None:
            return report
        report.kinds = _kinds(community, end.ended_on, today, dry_run=dry_run)
        if not dry_run and any(k["rows"] for k in report.kinds.values()):
            audit_record(
                action=AuditAction.RETENTION_RUN,
                actor=actor,
                target_type="community",
                target_id=community.pk,
                community=community,
                detail={kind: k["rows"] for kind, k in report.kinds.items()},
            )
            # From now on the end stands: what went does not come back (emergency_end_set).
            EmergencyEnd.objects.filter(pk=end.pk, retention_ran_at__isnull=True).update(
                retention_ran_at=timezone.now()
            )
    return report


def retention_preview(
    community: Community, *, ended_on: dt.date | None = None, today: dt.date | None = None
) -> CommunityRetention:
    """The dry run of every kind, due or not: what retention would delete or de-identify, and on which
    day, if the emergency ended on ``ended_on`` (default: the end declared; none declared: nothing).
    The committee's page shows it, before and after the end is declared; counts are of today's rows."""
    if ended_on is None:
        end = EmergencyEnd.objects.filter(community=community).first()
        ended_on = end.ended_on if end else None
    report = CommunityRetention(community.code, ended_on.isoformat() if ended_on else None, True)
    if ended_on is not None:
        report.kinds = _kinds(community, ended_on, today or community_today(community), dry_run=True, every_kind=True)
    return report


def retention_run(
    *, dry_run: bool, community: Community | None = None, today: dt.date | None = None
) -> list[CommunityRetention]:
    """Every community (or one), each in its own transaction."""
    communities = [community] if community is not None else list(Community.objects.order_by("code"))
    return [retention_community(c, dry_run=dry_run, today=today) for c in communities]


class EmergencyEndError(Refused):
    """An end of the emergency that cannot be set or withdrawn (a future day; retention already ran)."""


def emergency_end_check(*, community: Community, ended_on: dt.date, today: dt.date | None = None) -> None:
    """Refuse a day the emergency cannot have ended on: one after today, on the community's clock."""
    today = today or community_today(community)
    if ended_on > today:
        raise EmergencyEndError(
            f"结束日期不能晚于今天（{today.isoformat()}）：紧急状态结束后才能宣布",
            f"the end cannot be after today ({today.isoformat()}): declare it once the emergency is over",
        )


def emergency_end_set(
    *,
    community: Community,
    ended_on: dt.date | None,
    actor: User | None,
    after_retention: bool = False,
    today: dt.date | None = None,
) -> EmergencyEnd | None:
    """Set (or, with ``None``, withdraw) the end of ``community``'s emergency; audited, idempotent.

    Refused: a day after today (the community's), and any change once retention has deleted or
    de-identified something counted from the end (``EmergencyEnd.retention_ran_at``) unless
    ``after_retention`` (the operator's ``fangzhou emergency end --after-retention``). Setting the day
    it already has, or withdrawing an end that is not there, changes nothing and writes no audit row."""
    if ended_on is not None:
        emergency_end_check(community=community, ended_on=ended_on, today=today)
    with transaction.atomic(durable=True):
        # The community's row is the lock: two first declarations at once (a double tap) cannot both insert.
        Community.objects.select_for_update().filter(pk=community.pk).first()
        end = EmergencyEnd.objects.select_for_update().filter(community=community).first()
        before = end.ended_on if end else None
        if before == ended_on:
            return end  # a double submit, or the command run twice: nothing to do
        if end is not None and end.retention_ran_at is not None and not after_retention:
            ran = timezone.localtime(end.retention_ran_at, community.tzinfo).date().isoformat()
            raise EmergencyEndError(
                f"数据清理已于 {ran} 执行，结束日期不能再更改或撤回",
                f"retention already ran on {ran}: the end can no longer be changed or withdrawn",
            )
        if ended_on is None:
            assert end is not None
            end.delete()
            end = None
        elif end is None:
            end = EmergencyEnd.objects.create(community=community, ended_on=ended_on, set_by=actor)
        else:
            end.ended_on, end.set_by = ended_on, actor
            end.save(update_fields=["ended_on", "set_by", "set_at"])
        audit_record(
            action=AuditAction.EMERGENCY_END,
            actor=actor,
            target_type="community",
            target_id=community.pk,
            community=community,
            detail={
                "ended_on": ended_on.isoformat() if ended_on else None,
                "before": before.isoformat() if before else None,
            },
        )
    return end
