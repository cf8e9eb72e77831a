"""Sign-up, approval, work groups, the duty roster, swaps, auto-fill, exposure, export."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.utils import timezone
from openpyxl import load_workbook

from fangzhou.accounts.models import AuditLog, Role
from fangzhou.registry.tests.factories import World
from fangzhou.volunteers import autofill, selectors
from fangzhou.volunteers.models import Post, ShiftAssignment, SwapStatus, Volunteer, VolunteerStatus
from fangzhou.volunteers.services import (
    VolunteerError,
    roster_export_xlsx,
    shift_assign,
    shift_create,
    shifts_autofill,
    swap_request_create,
    swap_request_decide,
    volunteer_approve,
    volunteer_signup,
    volunteer_test_record,
    work_groups_ensure,
)
from fangzhou.volunteers.tests.helpers import approved
from fangzhou.workorders.models import Kind
from fangzhou.workorders.services import work_order_claim, work_order_create, work_order_transition


def test_signup_is_idempotent_on_client_id_and_phone(world: World) -> None:
    a, created = volunteer_signup(
        community=world.community, client_id="c" * 32, name=" 王 强 ", phone="138-0000-1111", building=world.b3
    )
    assert created and a.name == "王强" and a.phone == "+8613800001111" and a.status == VolunteerStatus.PENDING
    again, created_again = volunteer_signup(community=world.community, client_id="c" * 32, name="王强", phone="1")
    assert again.pk == a.pk and not created_again
    other_form, created3 = volunteer_signup(
        community=world.community, client_id="d" * 32, name="王强", phone="13800001111"
    )
    assert other_form.pk == a.pk and not created3
    assert Volunteer.objects.count() == 1


def test_signup_refuses_bad_input_in_both_languages(world: World) -> None:
    with pytest.raises(VolunteerError) as err:
        volunteer_signup(community=world.community, client_id="e" * 32, name="王强", phone="12345")
    assert err.value.zh and err.value.en
    with pytest.raises(VolunteerError):
        volunteer_signup(community=world.community, client_id="f" * 32, name="", phone="13800001111")
    with pytest.raises(VolunteerError):
        volunteer_signup(
            community=world.community,
            client_id="g" * 32,
            name="王强",
            phone="13800001111",
            building=world.other_building,
        )


def test_approval_creates_a_volunteer_account_once_with_a_one_time_link_not_a_password(world: World) -> None:
    from fangzhou.accounts.services import signin_link_use, signin_link_valid

    v, _ = volunteer_signup(community=world.community, client_id="h" * 32, name="陈默", phone="13900002222")
    first = volunteer_approve(volunteer=v, actor=world.secretary, groups=["supplies", "patrol"])
    assert first.token and first.username == "13900002222" and first.expires_at is not None
    user = first.volunteer.user
    assert user is not None and user.role == Role.VOLUNTEER and user.community == world.community
    # Nobody knows a password: the account signs in only through the link, once.
    assert not user.has_usable_password()
    link = signin_link_valid(first.token)
    assert link is not None and link.user == user
    signin_link_use(token=first.token, new_password="my-own-long-pass-1")
    assert signin_link_valid(first.token) is None
    user.refresh_from_db()
    assert user.check_password("my-own-long-pass-1")
    assert sorted(first.volunteer.groups.values_list("code", flat=True)) == ["patrol", "supplies"]
    second = volunteer_approve(volunteer=v, actor=world.secretary)
    assert second.token is None and second.username == first.username
    assert AuditLog.objects.filter(action="volunteer.approve", target_id=str(v.pk)).count() == 1


def test_signup_keeps_groups_days_and_slots_and_approval_defaults_to_the_groups_asked_for(world: World) -> None:
    v, _ = volunteer_signup(
        community=world.community,
        client_id="j" * 32,
        name="韩梅",
        phone="13900004444",
        groups=["care", "supplies", "nonsense"],
        days=["6", "7", "9"],
        slots=["evening", "teatime"],
    )
    assert v.wanted_group_codes == ["care", "supplies"]
    assert v.available_days == "6,7" and v.available_slots == "evening"
    approval = volunteer_approve(volunteer=v, actor=world.secretary)
    assert sorted(approval.volunteer.groups.values_list("code", flat=True)) == ["care", "supplies"]


def test_approval_never_takes_over_an_existing_account(world: World) -> None:
    v, _ = volunteer_signup(community=world.community, client_id="i" * 32, name="冒名", phone="13900003333")
    from fangzhou.accounts.services import user_upsert

    user_upsert(username="13900003333", password="x-long-password", role=Role.SECRETARY, community=world.community)
    approval = volunteer_approve(volunteer=v, actor=world.secretary)
    assert approval.username != "13900003333"
    from fangzhou.accounts.models import User

    assert User.objects.get(username="13900003333").role == Role.SECRETARY


def _group(world: World, code: str = "supplies"):  # type: ignore[no-untyped-def]
    return next(g for g in work_groups_ensure(community=world.community) if g.code == code)


def test_roster_shows_gaps_and_refuses_overlaps(world: World) -> None:
    group = _group(world)
    day = timezone.localdate()
    tz = timezone.get_current_timezone()
    start = dt.datetime.combine(day, dt.time(8), tzinfo=tz)
    s1, _ = shift_create(
        group=group,
        post=Post.GATE,
        place="东门",
        starts_at=start,
        ends_at=start + dt.timedelta(hours=4),
        needed=2,
        actor=None,
    )
    s2, _ = shift_create(
        group=group,
        post=Post.GATE,
        place="西门",
        starts_at=start + dt.timedelta(hours=2),
        ends_at=start + dt.timedelta(hours=6),
        actor=None,
    )
    v = approved(world.community, "周五", "13811112222")
    shift_assign(shift=s1, volunteer=v, actor=None)
    shift_assign(shift=s1, volunteer=v, actor=None)  # again: no double
    rows = {r.shift.pk: r for r in selectors.roster_day(community=world.community, day=day)}
    assert rows[s1.pk].gap == 1 and [p.name for p in rows[s1.pk].people] == ["周五"]
    assert rows[s2.pk].gap == 1
    with pytest.raises(VolunteerError, match="already on a shift"):
        shift_assign(shift=s2, volunteer=v, actor=None)


def test_swap_moves_the_place_to_a_healthy_colleague(world: World) -> None:
    group = _group(world)
    start = timezone.now() + dt.timedelta(hours=2)
    shift, _ = shift_create(
        group=group, post=Post.DUTY_OFFICE, starts_at=start, ends_at=start + dt.timedelta(hours=4), actor=None
    )
    a = approved(world.community, "吴六", "13811113333")
    b = approved(world.community, "郑七", "13811114444")
    stale = approved(world.community, "王八", "13811115555", tested_hours_ago=72)
    assignment = shift_assign(shift=shift, volunteer=a, actor=None)
    swap = swap_request_create(assignment=assignment, actor=a.user, reason="孩子发烧")  # type: ignore[arg-type]
    assert swap_request_create(assignment=assignment, actor=a.user).pk == swap.pk  # type: ignore[arg-type]
    with pytest.raises(VolunteerError, match="older than 48 hours"):
        swap_request_decide(swap=swap, actor=world.secretary, to=stale, accept=True)
    done = swap_request_decide(swap=swap, actor=world.secretary, to=b, accept=True)
    assert done.status == SwapStatus.DONE and done.requester == a
    assert list(ShiftAssignment.objects.filter(shift=shift).values_list("volunteer__name", flat=True)) == ["郑七"]


def test_autofill_fills_gaps_only_with_eligible_members_and_spreads_the_load(world: World) -> None:
    group = _group(world, "patrol")
    day = timezone.localdate()
    tz = timezone.get_current_timezone()
    for hour in (0, 8, 16):
        start = dt.datetime.combine(day, dt.time(hour), tzinfo=tz)
        shift_create(
            group=group, post=Post.GATE, starts_at=start, ends_at=start + dt.timedelta(hours=8), needed=1, actor=None
        )
    ok = [approved(world.community, f"巡{n}", f"1381111600{i}", groups=("patrol",)) for i, n in enumerate("甲乙丙")]
    blocked = approved(world.community, "未测", "13811116009", groups=("patrol",), tested_hours_ago=None)
    approved(world.community, "别组", "13811116008", groups=("supplies",))
    assert shifts_autofill(community=world.community, day=day, actor=None) == 3
    people = list(ShiftAssignment.objects.filter(shift__group=group).values_list("volunteer_id", flat=True))
    assert sorted(people) == sorted(v.pk for v in ok)  # one each, nobody blocked or from another group
    assert blocked.pk not in people
    assert shifts_autofill(community=world.community, day=day, actor=None) == 0


def test_autofill_core_never_double_books_overlapping_shifts() -> None:
    t0 = dt.datetime(2022, 4, 10, 8, tzinfo=dt.UTC)
    hour = dt.timedelta(hours=1)
    plan = autofill.solve(
        autofill.Problem(
            shifts=[
                autofill.OpenShift(1, 9, t0, t0 + 4 * hour, 1),
                autofill.OpenShift(2, 9, t0 + 2 * hour, t0 + 6 * hour, 1),
            ],
            people=[autofill.Person(10, frozenset({9}))],
        )
    )
    assert len(plan) == 1


def test_exposure_lists_households_served_and_shift_colleagues(world: World) -> None:
    a = approved(world.community, "阳性", "13811117777", groups=("supplies",))
    b = approved(world.community, "同班", "13811118888", groups=("supplies",))
    approved(world.community, "无关", "13811119999", groups=("supplies",))
    start = timezone.now() - dt.timedelta(hours=20)
    shift, _ = shift_create(
        group=_group(world),
        post=Post.GATE,
        starts_at=start,
        ends_at=start + dt.timedelta(hours=4),
        needed=2,
        actor=None,
    )
    shift_assign(shift=shift, volunteer=a, actor=None)
    shift_assign(shift=shift, volunteer=b, actor=None)
    zhang = world.resident("张伟")
    order, _created = work_order_create(
        community=world.community, kind=Kind.SUPPLY_DELIVERY, title="送菜", actor=None, resident=zhang
    )
    assert a.user is not None
    work_order_claim(order_id=order.pk, actor=a.user)
    work_order_transition(order_id=order.pk, actor=a.user, action="done")
    volunteer_test_record(
        volunteer=a, tested_at=timezone.now() - dt.timedelta(minutes=1), result="positive", actor=None
    )
    positive = selectors.last_positive(a)
    assert positive is not None
    exposure = selectors.exposure(a, positive_at=positive.tested_at)
    assert [h.pk for h in exposure.households] == [zhang.household_id]
    assert [c.name for c in exposure.colleagues] == ["同班"]


def test_roster_export_has_every_shift_and_marks_gaps(world: World) -> None:
    day = timezone.localdate()
    start = dt.datetime.combine(day, dt.time(9), tzinfo=timezone.get_current_timezone())
    shift, _ = shift_create(
        group=_group(world),
        post=Post.SAMPLING_SITE,
        place="1号点",
        starts_at=start,
        ends_at=start + dt.timedelta(hours=3),
        needed=3,
        actor=None,
    )
    shift_assign(shift=shift, volunteer=approved(world.community, "冯九", "13811110009"), actor=None)
    ws = load_workbook(io.BytesIO(roster_export_xlsx(community=world.community, day=day, actor=None))).active
    rows = list(ws.iter_rows(values_only=True))
    assert "值班表" in rows[0][0]
    assert rows[2][2] == "1号点" and "冯九" in rows[2][6] and "138****0009" in rows[2][6] and rows[2][7] == 2
