"""What is audited, and the one way to write it down.

Every service that changes data writes its audit row through :func:`audit_record` (or, for a
set-based writer such as the roster import, :func:`audit_record_many` over rows built by
:func:`audit_row`). The action is a member of :class:`AuditAction`; the stored strings are those
the log has always held, so old rows and new rows read alike.

An audit row never carries a resident's unmasked ID number or phone: :func:`audit_row` refuses a
detail that does (:class:`SensitiveDetail`), whichever service built it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from django.db import models
from django.utils.translation import gettext_lazy as _

from fangzhou.accounts.models import AuditLog, User
from fangzhou.lib.errors import Refused
from fangzhou.lib.fastsql import insert
from fangzhou.lib.personal import id_check_digit, mask_id, mask_phone


class AuditAction(models.TextChoices):
    # accounts
    USER_CREATE = "user.create", _("Account created")
    USER_UPDATE = "user.update", _("Account changed")
    ACCOUNT_DISABLE = "account.disable", _("Account disabled")
    ACCOUNT_ENABLE = "account.enable", _("Account enabled again")
    ACCOUNT_COMMUNITY_ADD = "account.community_add", _("Account given a further community")
    ACCOUNT_COMMUNITY_REMOVE = "account.community_remove", _("Further community taken from an account")
    DEPUTY_NAME = "deputy.name", _("Deputy secretary named")
    DEPUTY_REVOKE = "deputy.revoke", _("Deputy secretary ended")
    # registry
    COMMUNITY_CREATE = "community.create", _("Community created")
    COMPOUND_CREATE = "compound.create", _("Compound created")
    COMPOUND_UPDATE = "compound.update", _("Compound changed")
    SITE_PLAN_APPLY = "site_plan.apply", _("Site plan applied")
    BUILDING_TOKEN_ROTATE = "building.token_rotate", _("Building QR link replaced")
    BUILDING_TOKENS_ENSURE = "building.tokens_ensure", _("Building QR links issued")
    ROSTER_IMPORT = "roster.import", _("Roster imported")
    ROSTER_IMPORT_DRY_RUN = "roster.import.dry_run", _("Roster import checked (not saved)")
    ROSTER_EXPORT = "roster.export", _("Roster exported")
    COUNTS_REPAIR = "registry.counts_repair", _("Residents and households counts rebuilt")
    RESIDENT_UPDATE = "resident.update", _("Resident changed")
    RESIDENT_UNMASK = "resident.unmask", _("Resident's ID number or phone shown")
    RESIDENT_CALL = "resident.call", _("Resident's phone dialled (the number not shown)")
    ACCOUNT_PASSWORD_CHANGE = "account.password_change", _("Password changed")
    ACCOUNT_RESET_LINK = "account.reset_link", _("Sign-in link made")
    ACCOUNT_RESET_LINK_USED = "account.reset_link_used", _("Sign-in link used")
    ACCOUNT_LOCKOUT = "account.lockout", _("Account locked after failed sign-ins")
    API_TOKEN_CREATE = "api_token.create", _("API key made for a machine client")
    API_TOKEN_REVOKE = "api_token.revoke", _("API key revoked")
    API_TOKEN_REFUSE = "api_token.refuse", _("API key refused")
    VOLUNTEER_PHONE_UNMASK = "volunteer.phone_unmask", _("Volunteer's phone shown")
    RESIDENT_TRANSFER_APPROVE = "resident.transfer.approve", _("Resident moved to another community")
    RESIDENT_TRANSFER_DECLINE = "resident.transfer.decline", _("Resident's move declined")
    # work orders and residents' requests
    WORK_ORDER_CREATE = "work_order.create", _("Work order created")
    WORK_ORDER_CLAIM = "work_order.claim", _("Work order claimed")
    WORK_ORDER_START = "work_order.start", _("Work order started")
    WORK_ORDER_DONE = "work_order.done", _("Work order done")
    WORK_ORDER_CANCEL = "work_order.cancel", _("Work order cancelled")
    WORK_ORDER_RELEASE = "work_order.release", _("Work order released")
    WORK_ORDER_ESCALATE = "work_order.escalate", _("Work order escalated")
    WORK_ORDER_AUTO_CLOSE = "work_order.auto_close", _("Work order closed: its cause ended")
    REQUEST_SUBMIT = "request.submit", _("Resident request submitted")
    REQUEST_ESCALATE = "request.escalate", _("Resident request escalated to the subdistrict")
    # cases
    CASE_SETTINGS_UPDATE = "case_settings.update", _("Case rules changed")
    CASE_CONFIRM = "case.confirm", _("Case confirmed")
    CASE_TRANSFER = "case.transfer", _("Case transferred to isolation")
    TRANSFER_BATCH = "case.transfer_batch", _("Transfer batch planned, handed over or cancelled")
    ISOLATION_SITE = "case.isolation_site", _("Isolation site added or changed")
    CASE_PCR_RECORD = "case.pcr_record", _("Case PCR result recorded")
    CASE_DISCHARGE = "case.discharge", _("Case discharged")
    CASES_IMPORT = "cases.import", _("Cases imported")
    SURVEY_CHANGE = "survey.change", _("Needs survey built, opened or closed")
    SURVEY_ANSWER = "survey.answer", _("Needs survey answered")
    LINE_LIST_EXPORT = "cases.line_list_export", _("Line list exported")
    LINE_LIST_LAYOUT = "cases.line_list_layout", _("Line list layout saved")
    CONTACTS_IMPORT = "cases.contacts_import", _("Contacts imported")
    CONTACT_ADD = "cases.contact_add", _("Contact recorded")
    # zones
    ZONES_RULES = "zones.rules", _("Zone rules changed")
    ZONES_OVERRIDE = "zones.override", _("Zone status overridden")
    ZONES_OVERRIDE_END = "zones.override_end", _("Zone override ended")
    ZONES_BLOCK_DRAW = "zones.block_draw", _("Sealed block drawn")
    ZONES_BLOCK_CHANGE = "zones.block_change", _("Sealed block changed")
    ZONES_BLOCK_DISSOLVE = "zones.block_dissolve", _("Sealed block unsealed")
    ZONES_ROADS = "zones.roads", _("Roads and gates set")
    ZONES_OPEN_SPACE = "zones.open_space", _("Open space saved")
    # testing
    ROUND_CREATE = "round.create", _("Testing round created")
    SITE_SAVE = "site.save", _("Sampling site saved")
    ROUND_SCHEDULE = "round.schedule", _("Testing round scheduled")
    SAMPLE_TAKE = "sample.take", _("Samples taken")
    TUBE_CLOSE = "tube.close", _("Tube closed")
    ROUND_CLOSE = "round.close", _("Testing round closed")
    SAMPLES_IMPORT = "samples.import", _("Samples imported")
    RESULTS_IMPORT = "results.import", _("Lab results imported")
    RETEST_OPEN = "retest.open", _("Re-test opened")
    RETEST_CONFIRM = "retest.confirm", _("Case confirmed from the re-test list")
    ANTIGEN_SUBMIT = "antigen.submit", _("Antigen results submitted")
    KITS_HANDOUT = "kits.handout", _("Antigen kits handed out")
    # volunteers
    VOLUNTEER_SIGNUP_LINK_CREATE = "volunteer.signup_link_create", _("Volunteer sign-up link issued")
    VOLUNTEER_SIGNUP_LINK_ROTATE = "volunteer.signup_link_rotate", _("Volunteer sign-up link replaced")
    VOLUNTEER_SIGNUP = "volunteer.signup", _("Volunteer signed up")
    VOLUNTEER_APPROVE = "volunteer.approve", _("Volunteer approved")
    VOLUNTEER_REJECT = "volunteer.reject", _("Volunteer rejected")
    VOLUNTEER_GROUPS = "volunteer.groups", _("Volunteer's work groups set")
    WORK_GROUPS_ENSURE = "work_groups.ensure", _("Default work groups created")
    WORK_GROUP_LEAD = "work_group.lead", _("Work group lead set")
    VOLUNTEER_TEST = "volunteer.test", _("Volunteer's test recorded")
    SHIFT_CREATE = "shift.create", _("Shift created")
    SHIFT_ASSIGN = "shift.assign", _("Volunteer put on a shift")
    SHIFT_UNASSIGN = "shift.unassign", _("Volunteer taken off a shift")
    SWAP_REQUEST = "swap.request", _("Shift swap requested")
    SWAP_DECIDE = "swap.decide", _("Shift swap decided")
    # supplies
    DISTRIBUTION_CREATE = "distribution.create", _("Distribution created")
    DISTRIBUTION_ALLOCATE = "distribution.allocate", _("Distribution allocated")
    DISTRIBUTION_CLOSE = "distribution.close", _("Distribution closed")
    GROUP_ORDER_SET = "group_order.set", _("Group-purchase order entered")
    GROUP_PURCHASE_IMPORT = "group_purchase.import", _("Group-purchase orders imported")
    DELIVERY_ASSIGN = "delivery.assign", _("Delivery list given to a volunteer")
    DELIVERY_UNASSIGN = "delivery.unassign", _("Delivery list taken back")
    DELIVERY_MARK = "delivery.mark", _("Delivery marked")
    DELIVERY_UNDO = "delivery.undo", _("Delivery mark undone")
    DELIVERIES_SWEEP = "deliveries.sweep", _("Undelivered doors turned into work orders")
    ROUTE_PLAN_REQUEST = "route_plan.request", _("Route plan requested")
    ROUTE_PLAN_RUN = "route_plan.run", _("Route plan solved")
    # care
    CARE_SYNC = "care.sync", _("Special-care registry synchronised")
    CARE_PROFILE_UPDATE = "care.profile_update", _("Special-care profile changed")
    CARE_SCHEDULE_SET = "care.schedule_set", _("Treatment schedule saved")
    CARE_SCHEDULE_STOP = "care.schedule_stop", _("Treatment schedule stopped")
    CARE_ESCORT_ORDER = "care.escort_order", _("Medical escort ordered")
    CARE_CHECKIN = "care.checkin", _("Check-in recorded")
    CARE_CHECKINS_CLOSE = "care.checkins_close", _("Check-in day closed")
    MEDICINE_REQUEST = "medicine.request", _("Medicine requested")
    MEDICINE_TRIP = "medicine.trip", _("Medicine trip batched")
    MEDICINE_DELIVER = "medicine.deliver", _("Medicine delivered")
    MEDICINE_CANCEL = "medicine.cancel", _("Medicine request cancelled")
    # operations
    EMERGENCY_END = "emergency.end", _("End of the emergency set")
    RETENTION_RUN = "retention.run", _("Personal data past its retention deleted or de-identified")
    # notices
    NOTICE_SEND = "notice.send", _("Notice sent")
    NOTICE_SETTINGS = "notice.settings", _("Notice settings changed")
    NOTICE_OPT_OUT = "notice.opt_out", _("Resident opted out of SMS")
    NOTICE_OPT_IN = "notice.opt_in", _("Resident receives SMS again")


class SensitiveDetail(Refused):
    """An audit detail would have stored an unmasked ID number or phone (a bug, or a note that holds one)."""

    def __init__(self, key: str) -> None:
        super().__init__(
            f"记录中不能含有未遮挡的证件号码或手机号（{key}）",
            f"an unmasked ID number or phone cannot be recorded ({key})",
        )
        self.key = key


# Keys whose values are sensitive: they may be stored only masked ("3101**********1234").
SENSITIVE_KEYS = frozenset({"id_number", "phone", "contact_phone", "mobile"})
# Keys whose values are codes, not people (a lab's tube barcode may be a long run of digits).
CODE_KEYS = frozenset({"code", "positive_tubes", "invalid_tubes"})
# A mobile number, or 18 characters that may be a resident ID, anywhere in a value and not masked.
_UNMASKED = re.compile(r"(?<![\d*])(?:\d{17}[\dXx]|(?:\+?86)?1[3-9]\d{9})(?![\d*Xx])")


def _looks_personal(value: str) -> bool:
    """A mobile number, or an 18-character number whose GB 11643 check digit holds (a resident ID)."""
    if len(value) != 18:
        return True
    return value[:17].isdigit() and id_check_digit(value[:17]) == value[17].upper()


def masked(text: str) -> str:
    """Free text for a detail (a note, a reason, a username, a file name) with any ID number or
    mobile number in it masked the way the registry masks them (``3101**********1234``, ``138****1234``)."""

    def mask(match: re.Match[str]) -> str:
        value = match.group(0)
        if not _looks_personal(value):
            return value
        return mask_id(value) if len(value) == 18 else mask_phone(value)

    return _UNMASKED.sub(mask, text)


def _check(value: Any, *, key: str, sensitive: bool) -> None:
    if isinstance(value, Mapping):
        for k, v in value.items():
            _check(v, key=str(k), sensitive=sensitive or str(k) in SENSITIVE_KEYS)
    elif isinstance(value, list | tuple | set | frozenset):
        for item in value:
            _check(item, key=key, sensitive=sensitive)
    elif isinstance(value, str | int) and not isinstance(value, bool):
        text = str(value)
        if sensitive and text and "*" not in text:
            raise SensitiveDetail(key)
        if key not in CODE_KEYS and any(_looks_personal(m) for m in _UNMASKED.findall(text)):
            raise SensitiveDetail(key)


def audit_row(
    *,
    action: AuditAction,
    actor: User | None,
    target_type: str,
    target_id: str | int,
    community: models.Model | None = None,
    community_id: int | None = None,
    detail: Mapping[str, Any] | None = None,
) -> AuditLog:
    """One audit row, checked and not yet saved: who did what to which record."""
    row = AuditLog(
        actor=actor,
        action=action,
        target_type=target_type,
        target_id=str(target_id),
        community_id=community.pk if community is not None else community_id,
        detail=dict(detail or {}),
    )
    return _checked(row)


def audit_values(
    *,
    action: AuditAction,
    actor_id: int | None,
    target_type: str,
    target_id: str | int,
    community_id: int | None,
    detail: Mapping[str, Any],
) -> dict[str, Any]:
    """:func:`audit_row`'s checks, and the row's values by attribute name (``at`` left to the
    writer), for a hot write that sends its own INSERT without building the model instance (the
    public antigen submit). ``AuditLog(**values)`` is the same row as ``audit_row`` makes."""
    detail = dict(detail)
    _check(detail, key="detail", sensitive=False)
    return {
        "actor_id": actor_id,
        "action": AuditAction(action).value,  # an action that is not a member is refused here
        "target_type": target_type,
        "target_id": str(target_id),
        "community_id": community_id,
        "detail": detail,
    }


def _checked(row: AuditLog) -> AuditLog:
    row.action = AuditAction(row.action).value  # an action that is not a member is refused here
    _check(row.detail, key="detail", sensitive=False)
    return row


def audit_record(
    *,
    action: AuditAction,
    actor: User | None,
    target_type: str,
    target_id: str | int,
    community: models.Model | None = None,
    community_id: int | None = None,
    detail: Mapping[str, Any] | None = None,
) -> AuditLog:
    """Write one audit row (in the caller's transaction). Never pass an unmasked sensitive value."""
    row = audit_row(
        action=action,
        actor=actor,
        target_type=target_type,
        target_id=target_id,
        community=community,
        community_id=community_id,
        detail=detail,
    )
    return insert(row)  # as row.save(), without compiling the INSERT each time (hot: every public submit)


def audit_record_many(rows: Iterable[AuditLog]) -> list[AuditLog]:
    """Write many rows built by :func:`audit_row` in one statement per batch (set-based writers)."""
    return AuditLog.objects.bulk_create([_checked(row) for row in rows], batch_size=1000)
