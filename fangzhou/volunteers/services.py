"""Writes for volunteers: sign-up, approval, work groups, the duty roster, swaps, test records."""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Iterable
from dataclasses import dataclass

from django.db import IntegrityError, models, transaction
from django.db.models import Q
from django.utils import timezone

from fangzhou.accounts.audit import AuditAction, audit_record
from fangzhou.accounts.models import Role, User
from fangzhou.accounts.services import signin_link_create, user_upsert_in_transaction
from fangzhou.lib.errors import Refused
from fangzhou.lib.sheetwrite import SheetWriter
from fangzhou.registry.models import Building, Community, Resident
from fangzhou.registry.roster import normalize as nz
from fangzhou.volunteers import autofill, signals
from fangzhou.volunteers.models import (
    Post,
    Shift,
    ShiftAssignment,
    SignupLink,
    Skill,
    SwapRequest,
    SwapStatus,
    TestKind,
    TestResult,
    TimeSlot,
    Volunteer,
    VolunteerKind,
    VolunteerStatus,
    VolunteerTest,
    Weekday,
    WorkGroup,
)
from fangzhou.volunteers.selectors import day_bounds, roster_day, volunteer_health, volunteer_health_many
from fangzhou.workorders.models import Group


class VolunteerError(Refused):
    """Refused by the volunteer rules (reason in Chinese and English)."""


# --- sign-up link ---------------------------------------------------------------------------


def signup_link_ensure_in_transaction(*, community: Community) -> SignupLink:
    """The community's sign-up link, made on first use (inside the caller's transaction)."""
    link = SignupLink.objects.filter(community=community).first()
    if link is not None:
        return link
    try:
        with transaction.atomic():  # a savepoint: a concurrent first use wins the unique constraint
            link = SignupLink.objects.create(community=community, token=secrets.token_urlsafe(24))
            audit_record(
                action=AuditAction.VOLUNTEER_SIGNUP_LINK_CREATE,
                actor=None,
                target_type="community",
                target_id=community.pk,
                community_id=community.pk,
            )
            return link
    except IntegrityError:
        return SignupLink.objects.get(community=community)


signup_link_ensure = transaction.atomic(durable=True)(signup_link_ensure_in_transaction)


@transaction.atomic(durable=True)
def signup_link_rotate(*, community: Community, actor: User | None) -> SignupLink:
    """A new sign-up QR link; the old poster stops working at once."""
    link = signup_link_ensure_in_transaction(community=community)
    link.token = secrets.token_urlsafe(24)
    link.save(update_fields=["token"])
    audit_record(
        action=AuditAction.VOLUNTEER_SIGNUP_LINK_ROTATE,
        actor=actor,
        target_type="community",
        target_id=community.pk,
        community_id=community.pk,
    )
    return link


def signup_link_community(token: str) -> Community | None:
    if not token or len(token) < 16:
        return None
    link = SignupLink.objects.select_related("community").filter(token=token).first()
    return link.community if link else None


# --- sign-up and approval -------------------------------------------------------------------


def _known(codes: Iterable[str], choices: type[models.TextChoices]) -> str:
    wanted = {str(c) for c in codes}
    return ",".join(c for c in choices.values if c in wanted)


def _skills(codes: Iterable[str]) -> str:
    wanted = set(codes)
    return ",".join(c for c in Skill.values if c in wanted)


def volunteer_signup(
    *,
    community: Community,
    client_id: str,
    name: str,
    phone: str,
    kind: str = VolunteerKind.RESIDENT,
    building: Building | None = None,
    skills: Iterable[str] = (),
    availability: str = "",
    groups: Iterable[str] = (),
    days: Iterable[str] = (),
    slots: Iterable[str] = (),
) -> tuple[Volunteer, bool]:
    """Record a sign-up. Idempotent on ``client_id`` (a retry) and on the phone (signing up twice).

    ``groups`` are the work groups they would join, ``days`` and ``slots`` when they can help
    (unknown codes are dropped); the committee sees them and approves into those groups."""
    client_id = (client_id or "").strip()[:64]
    if len(client_id) < 8:
        raise VolunteerError("表单已过期，请刷新页面重试", "the form has expired; reload the page and try again")
    existing = Volunteer.objects.filter(client_id=client_id).first()
    if existing is not None:
        return existing, False
    try:
        clean_name = nz.person_name(name)
        clean_phone = nz.phone(phone)
    except nz.CellError as exc:
        raise VolunteerError(exc.zh, exc.en) from exc
    if not clean_name:
        raise VolunteerError("请填写姓名", "enter your name")
    if not clean_phone:
        raise VolunteerError("请填写手机号", "enter your phone number")
    if kind not in VolunteerKind.values:
        raise VolunteerError("请选择身份", "choose what kind of volunteer you are")
    if building is not None and building.community_id != community.pk:
        raise VolunteerError("楼栋不属于本居民区", "the building is not in this community")
    same_phone = Volunteer.objects.filter(community=community, phone=clean_phone).first()
    if same_phone is not None:
        return same_phone, False
    resident = None
    if building is not None:
        resident = Resident.objects.filter(household__building=building, phone=clean_phone).first()
    try:
        with transaction.atomic(durable=True):
            volunteer = Volunteer.objects.create(
                community=community,
                client_id=client_id,
                name=clean_name,
                phone=clean_phone,
                building=building,
                resident=resident,
                kind=kind,
                skills=_skills(skills),
                availability=availability.strip()[:200],
                wanted_groups=_known(groups, Group),
                available_days=_known(days, Weekday),
                available_slots=_known(slots, TimeSlot),
            )
            audit_record(
                action=AuditAction.VOLUNTEER_SIGNUP,
                actor=None,
                target_type="volunteer",
                target_id=volunteer.pk,
                community_id=community.pk,
                detail={"kind": kind},
            )
    except IntegrityError:
        found = Volunteer.objects.filter(Q(client_id=client_id) | Q(community=community, phone=clean_phone)).first()
        if found is None:
            raise
        return found, False
    return volunteer, True


def volunteer_phone_reveal(*, volunteer: Volunteer, actor: User) -> str:
    """A volunteer's full phone for a manager, with an audit row (who saw whose number, not the number).

    The caller has checked ``permissions.can_see_phone``; the volunteer's own number is not audited."""
    if volunteer.user_id != actor.pk:
        with transaction.atomic(durable=True):
            audit_record(
                action=AuditAction.VOLUNTEER_PHONE_UNMASK,
                actor=actor,
                target_type="volunteer",
                target_id=volunteer.pk,
                community_id=volunteer.community_id,
            )
    return volunteer.phone


@dataclass(frozen=True)
class Approval:
    volunteer: Volunteer
    username: str
    # The one-time sign-in link's secret (accounts' sign-in links): shown once to the committee as
    # a link and a QR code, never stored. None when the volunteer was already approved (the
    # committee makes a new link from the accounts page then).
    token: str | None
    expires_at: dt.datetime | None = None


def _free_username(volunteer: Volunteer) -> str:
    # The phone as the volunteer writes it ("13812345678"), not its stored E.164 form.
    phone = nz.phone_display(volunteer.phone).replace(" ", "")
    for candidate in (phone, f"{phone}-{volunteer.pk}", f"v{volunteer.pk}-{secrets.token_hex(3)}"):
        if not User.objects.filter(username=candidate).exists():
            return candidate
    raise VolunteerError("无法生成账号", "could not pick a username")  # pragma: no cover


def volunteer_approve(*, volunteer: Volunteer, actor: User | None, groups: Iterable[str] | None = None) -> Approval:
    """Approve a sign-up: an account with the volunteer role, membership of the given groups (those
    they asked for when ``groups`` is None), and a one-time sign-in link instead of a password passed
    by hand: the volunteer opens it, chooses their own password and is signed in."""
    with transaction.atomic(durable=True):
        locked = Volunteer.objects.select_for_update(of=("self",)).select_related("user").get(pk=volunteer.pk)
        if locked.status == VolunteerStatus.APPROVED and locked.user is not None:
            return Approval(locked, locked.user.username, None)
        username = _free_username(locked)
        user = user_upsert_in_transaction(
            username=username,
            password=secrets.token_urlsafe(24),  # made unusable at once by the sign-in link below
            role=Role.VOLUNTEER,
            display_name=locked.name,
            community=locked.community,
            actor=actor,
        )
        locked.user = user
        locked.status = VolunteerStatus.APPROVED
        locked.decided_at = timezone.now()
        locked.decided_by = actor
        locked.save(update_fields=["user", "status", "decided_at", "decided_by"])
        codes = list(groups) if groups is not None else locked.wanted_group_codes
        if codes:
            _set_groups(locked, codes)
        made = signin_link_create(user=user, actor=actor)
        audit_record(
            action=AuditAction.VOLUNTEER_APPROVE,
            actor=actor,
            target_type="volunteer",
            target_id=locked.pk,
            community_id=locked.community_id,
            detail={"groups": codes, "user": user.pk},
        )
    return Approval(locked, username, made.token, made.link.expires_at)


@transaction.atomic(durable=True)
def volunteer_reject(*, volunteer: Volunteer, actor: User) -> Volunteer:
    if volunteer.status == VolunteerStatus.APPROVED:
        raise VolunteerError("已批准的志愿者不能拒绝", "an approved volunteer cannot be rejected")
    Volunteer.objects.filter(pk=volunteer.pk).update(
        status=VolunteerStatus.REJECTED, decided_at=timezone.now(), decided_by=actor
    )
    volunteer.refresh_from_db()
    audit_record(
        action=AuditAction.VOLUNTEER_REJECT,
        actor=actor,
        target_type="volunteer",
        target_id=volunteer.pk,
        community_id=volunteer.community_id,
    )
    return volunteer


# --- work groups ----------------------------------------------------------------------------


def work_groups_ensure_in_transaction(*, community: Community) -> list[WorkGroup]:
    """The default seven work groups of a community (idempotent; inside the caller's transaction)."""
    have = set(WorkGroup.objects.filter(community=community).values_list("code", flat=True))
    missing = [WorkGroup(community=community, code=code) for code in Group.values if code not in have]
    if missing:
        WorkGroup.objects.bulk_create(missing, ignore_conflicts=True)
        audit_record(
            action=AuditAction.WORK_GROUPS_ENSURE,
            actor=None,
            target_type="community",
            target_id=community.pk,
            community_id=community.pk,
            detail={"groups": [g.code for g in missing]},
        )
    return list(WorkGroup.objects.filter(community=community).select_related("lead").order_by("id"))


work_groups_ensure = transaction.atomic(durable=True)(work_groups_ensure_in_transaction)


def _set_groups(volunteer: Volunteer, codes: Iterable[str]) -> None:
    work_groups_ensure_in_transaction(community=volunteer.community)
    wanted = [c for c in codes if c in Group.values]
    groups = list(WorkGroup.objects.filter(community_id=volunteer.community_id, code__in=wanted))
    volunteer.groups.set(groups)


@transaction.atomic(durable=True)
def volunteer_groups_set(*, volunteer: Volunteer, codes: Iterable[str], actor: User) -> list[str]:
    codes = [c for c in codes if c in Group.values]
    _set_groups(volunteer, codes)
    audit_record(
        action=AuditAction.VOLUNTEER_GROUPS,
        actor=actor,
        target_type="volunteer",
        target_id=volunteer.pk,
        community_id=volunteer.community_id,
        detail={"groups": codes},
    )
    return codes


@transaction.atomic(durable=True)
def work_group_lead_set(*, group: WorkGroup, lead: User | None, actor: User | None) -> WorkGroup:
    if lead is not None and lead.community_id not in {group.community_id, None}:
        raise VolunteerError("组长必须是本居民区的人员", "the lead must belong to this community")
    group.lead = lead
    group.save(update_fields=["lead"])
    audit_record(
        action=AuditAction.WORK_GROUP_LEAD,
        actor=actor,
        target_type="work_group",
        target_id=group.pk,
        community_id=group.community_id,
        detail={"lead": lead.pk if lead else None},
    )
    return group


# --- tests and the health gate --------------------------------------------------------------


def volunteer_test_record(
    *, volunteer: Volunteer, tested_at: dt.datetime, result: str, actor: User | None, kind: str = TestKind.ANTIGEN
) -> tuple[VolunteerTest, bool]:
    """Record one of the volunteer's own tests (idempotent on volunteer + time + kind)."""
    if result not in TestResult.values:
        raise VolunteerError("检测结果无效", "the result must be negative or positive")
    if kind not in TestKind.values:
        raise VolunteerError("检测类型无效", "the test kind must be antigen or PCR")
    if tested_at > timezone.now() + dt.timedelta(minutes=10):
        raise VolunteerError("检测时间不能在将来", "the test time cannot be in the future")
    with transaction.atomic(durable=True):
        test, created = VolunteerTest.objects.get_or_create(
            volunteer=volunteer,
            tested_at=tested_at,
            kind=kind,
            defaults={"result": result, "recorded_by": actor},
        )
        if created:
            audit_record(
                action=AuditAction.VOLUNTEER_TEST,
                actor=actor,
                target_type="volunteer",
                target_id=volunteer.pk,
                community_id=volunteer.community_id,
                detail={"result": result, "kind": kind},
            )
    return test, created


def _gate_or_raise(volunteer: Volunteer, *, at: dt.datetime | None = None) -> None:
    result = volunteer_health(volunteer, at=at)
    if not result.ok:
        raise VolunteerError(
            f"{volunteer.name} 暂不能上岗：" + "；".join(r.zh for r in result.reasons),
            f"{volunteer.name} cannot go on duty: " + "; ".join(r.en for r in result.reasons),
        )


# --- the duty roster ------------------------------------------------------------------------


def shift_create(
    *,
    group: WorkGroup,
    post: str,
    starts_at: dt.datetime,
    ends_at: dt.datetime,
    actor: User | None,
    place: str = "",
    needed: int = 1,
) -> tuple[Shift, bool]:
    if post not in Post.values:
        raise VolunteerError("岗位无效", "unknown post")
    if ends_at <= starts_at:
        raise VolunteerError("结束时间必须晚于开始时间", "the shift must end after it starts")
    if not 1 <= needed <= 50:
        raise VolunteerError("需要人数应在 1–50 之间", "people needed must be between 1 and 50")
    with transaction.atomic(durable=True):
        shift, created = Shift.objects.get_or_create(
            group=group,
            post=post,
            place=place.strip()[:64],
            starts_at=starts_at,
            defaults={"community_id": group.community_id, "ends_at": ends_at, "needed": needed},
        )
        if created:
            audit_record(
                action=AuditAction.SHIFT_CREATE,
                actor=actor,
                target_type="shift",
                target_id=shift.pk,
                community_id=group.community_id,
                detail={"post": post},
            )
    return shift, created


def _no_clash(shift: Shift, volunteer: Volunteer) -> None:
    local = timezone.get_current_timezone()
    clash = (
        ShiftAssignment.objects.filter(
            volunteer=volunteer, shift__starts_at__lt=shift.ends_at, shift__ends_at__gt=shift.starts_at
        )
        .exclude(shift=shift)
        .select_related("shift")
        .first()
    )
    if clash is not None:
        start = clash.shift.starts_at.astimezone(local)
        end = clash.shift.ends_at.astimezone(local)
        raise VolunteerError(
            f"{volunteer.name} 在 {start:%H:%M}–{end:%H:%M} 已有排班",
            f"{volunteer.name} is already on a shift {start:%H:%M}–{end:%H:%M}",
        )


@transaction.atomic(durable=True)
def shift_assign(*, shift: Shift, volunteer: Volunteer, actor: User | None) -> ShiftAssignment:
    """Put a volunteer on a shift. Refused (and says why) when the health gate is closed.

    The gate and the clash check are asked inside the transaction, after the shift's row lock."""
    if volunteer.community_id != shift.community_id:
        raise VolunteerError("志愿者不属于本居民区", "the volunteer is not in this community")
    if volunteer.status != VolunteerStatus.APPROVED:
        raise VolunteerError("志愿者尚未批准", "the volunteer is not approved yet")
    Shift.objects.select_for_update().filter(pk=shift.pk).first()  # queue concurrent assigners of one shift
    existing = ShiftAssignment.objects.filter(shift=shift, volunteer=volunteer).first()
    if existing is not None:
        return existing
    _gate_or_raise(volunteer)
    _no_clash(shift, volunteer)
    assignment, created = ShiftAssignment.objects.get_or_create(
        shift=shift, volunteer=volunteer, defaults={"assigned_by": actor}
    )
    if created:
        audit_record(
            action=AuditAction.SHIFT_ASSIGN,
            actor=actor,
            target_type="shift",
            target_id=shift.pk,
            community_id=shift.community_id,
            detail={"volunteer": volunteer.pk},
        )
        assigned = assignment.pk
        transaction.on_commit(
            lambda: signals.shift_assigned.send(sender=ShiftAssignment, assignment_id=assigned), robust=True
        )
    return assignment


@transaction.atomic(durable=True)
def shift_unassign(*, assignment: ShiftAssignment, actor: User | None) -> None:
    shift = assignment.shift
    deleted, _ = ShiftAssignment.objects.filter(pk=assignment.pk).delete()
    if deleted:
        audit_record(
            action=AuditAction.SHIFT_UNASSIGN,
            actor=actor,
            target_type="shift",
            target_id=shift.pk,
            community_id=shift.community_id,
            detail={"volunteer": assignment.volunteer_id},
        )


def swap_request_create(
    *, assignment: ShiftAssignment, actor: User, reason: str = "", proposed: Volunteer | None = None
) -> SwapRequest:
    """Ask to hand one's place on a shift to someone else (one open request per place)."""
    if proposed is not None and proposed.community_id != assignment.shift.community_id:
        raise VolunteerError("替班人不属于本居民区", "the proposed colleague is not in this community")
    with transaction.atomic(durable=True):
        open_swap = SwapRequest.objects.filter(assignment=assignment, status=SwapStatus.OPEN).first()
        if open_swap is not None:
            return open_swap
        try:
            with transaction.atomic():  # a savepoint: one open request per place (unique constraint)
                swap = SwapRequest.objects.create(
                    assignment=assignment,
                    requester_id=assignment.volunteer_id,
                    reason=reason.strip()[:200],
                    proposed=proposed,
                )
        except IntegrityError:
            return SwapRequest.objects.get(assignment=assignment, status=SwapStatus.OPEN)
        audit_record(
            action=AuditAction.SWAP_REQUEST,
            actor=actor,
            target_type="swap",
            target_id=swap.pk,
            community_id=assignment.shift.community_id,
        )
    return swap


def swap_request_decide(*, swap: SwapRequest, actor: User, to: Volunteer | None, accept: bool) -> SwapRequest:
    """Accept (move the place to ``to``, through the health gate) or cancel a swap request."""
    if swap.status != SwapStatus.OPEN:
        return swap
    with transaction.atomic(durable=True):
        locked = SwapRequest.objects.select_for_update(of=("self",)).select_related("assignment__shift").get(pk=swap.pk)
        if locked.status != SwapStatus.OPEN:
            return locked
        shift = locked.assignment.shift
        if accept:
            target = to or locked.proposed
            if target is None:
                raise VolunteerError("请选择替班的志愿者", "choose who takes the place")
            if target.community_id != shift.community_id or target.status != VolunteerStatus.APPROVED:
                raise VolunteerError(
                    "替班人必须是本居民区已批准的志愿者", "the colleague must be an approved volunteer here"
                )
            if ShiftAssignment.objects.filter(shift=shift, volunteer=target).exists():
                raise VolunteerError(f"{target.name} 已在这个班次", f"{target.name} is already on this shift")
            _gate_or_raise(target)
            _no_clash(shift, target)
            ShiftAssignment.objects.filter(pk=locked.assignment_id).update(volunteer=target, assigned_by=actor)
            locked.proposed = target
            locked.status = SwapStatus.DONE
        else:
            locked.status = SwapStatus.CANCELLED
        locked.decided_by = actor
        locked.decided_at = timezone.now()
        locked.save(update_fields=["proposed", "status", "decided_by", "decided_at"])
        audit_record(
            action=AuditAction.SWAP_DECIDE,
            actor=actor,
            target_type="swap",
            target_id=locked.pk,
            community_id=shift.community_id,
            detail={"accepted": accept},
        )
    return locked


# --- auto-fill and export -------------------------------------------------------------------


def shifts_autofill(*, community: Community, day: dt.date, actor: User | None) -> int:
    """Fill the gaps of one day's roster from eligible members of each group (CP-SAT). Returns places filled.

    A place held by someone whose health gate is closed is a gap too (``roster_day``), and the solver
    is told who may not serve now, so it fills such a shift with someone else.

    The solver runs outside any transaction; each place is then filled by :func:`shift_assign` in a
    transaction of its own (gate and clash checked again under the shift's lock), like a sweep."""

    rows = roster_day(community=community, day=day)
    open_shifts = [r for r in rows if r.gap > 0]
    if not open_shifts:
        return 0
    group_ids = {r.shift.group_id for r in open_shifts}
    members = list(
        Volunteer.objects.filter(status=VolunteerStatus.APPROVED, groups__in=group_ids)
        .distinct()
        .prefetch_related("groups")
    )
    health = volunteer_health_many(members)
    busy: dict[int, list[tuple[dt.datetime, dt.datetime]]] = {}
    load: dict[int, int] = {}
    start, end = day_bounds(day)
    for a in ShiftAssignment.objects.filter(
        volunteer__in=members, shift__starts_at__gte=start, shift__starts_at__lt=end
    ).select_related("shift"):
        busy.setdefault(a.volunteer_id, []).append((a.shift.starts_at, a.shift.ends_at))
        load[a.volunteer_id] = load.get(a.volunteer_id, 0) + 1
    problem = autofill.Problem(
        shifts=[
            autofill.OpenShift(
                id=r.shift.pk, group=r.shift.group_id, starts=r.shift.starts_at, ends=r.shift.ends_at, gap=r.gap
            )
            for r in open_shifts
        ],
        people=[
            autofill.Person(
                id=v.pk,
                groups=frozenset(g.pk for g in v.groups.all()),
                busy=tuple(busy.get(v.pk, [])),
                load=load.get(v.pk, 0),
                may_serve=health[v.pk].ok,
            )
            for v in members
        ],
    )
    plan = autofill.solve(problem)
    shifts = {s.pk: s for s in Shift.objects.filter(pk__in=[p[0] for p in plan])}
    volunteers = {v.pk: v for v in members}
    filled = 0
    for shift_id, volunteer_id in plan:
        try:
            shift_assign(shift=shifts[shift_id], volunteer=volunteers[volunteer_id], actor=actor)
            filled += 1
        except VolunteerError:
            continue
    return filled


@transaction.atomic(durable=True)
def roster_export_xlsx(*, community: Community, day: dt.date, actor: User | None) -> bytes:
    rows = roster_day(community=community, day=day)
    book = SheetWriter(f"{day:%m-%d}")
    book.heading(f"{community.name} 值班表 {day:%Y-%m-%d}")
    book.header(
        ["工作组 Group", "岗位 Post", "地点 Place", "开始 Start", "结束 End", "需要 Needed", "在岗 On duty", "缺 Gap"]
    )
    local = timezone.get_current_timezone()
    for r in rows:
        shift = r.shift
        book.row(
            [
                str(shift.group.get_code_display()),
                str(shift.get_post_display()),
                shift.place,
                shift.starts_at.astimezone(local).strftime("%H:%M"),
                shift.ends_at.astimezone(local).strftime("%m-%d %H:%M"),
                shift.needed,
                "、".join(
                    f"{p.volunteer.name} {nz.mask_phone(p.volunteer.phone)}"
                    + ("" if p.serving else "（暂不能上岗 / may not serve）")
                    for p in r.places
                ),
                r.gap or "",
            ],
            fill="FDECEA" if r.gap else None,
            wrap=(6,),
        )
    book.widths((18, 14, 14, 8, 12, 8, 48, 6))
    audit_record(
        action=AuditAction.ROSTER_EXPORT,
        actor=actor,
        target_type="community",
        target_id=community.pk,
        community_id=community.pk,
        detail={"day": day.isoformat()},
    )
    return book.to_bytes()
