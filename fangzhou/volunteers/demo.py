"""Demo data for volunteers and work orders, built through the real services (idempotent).

``volunteers_demo(community)`` gives a community its seven work groups with leads, about forty
volunteers (most approved, a few waiting, a few kept off duty by the health gate), today's
24-hour duty roster filled by the auto-fill, and some open work orders and residents' requests.
"""

from __future__ import annotations

import datetime as dt
import random
import secrets
from dataclasses import dataclass, field

from django.utils import timezone

from fangzhou.accounts.models import Role, User
from fangzhou.accounts.services import user_upsert
from fangzhou.registry.models import Building, Community, Resident
from fangzhou.registry.services import building_tokens_ensure
from fangzhou.volunteers import services
from fangzhou.volunteers.models import Post, TestResult, Volunteer, VolunteerKind, VolunteerStatus
from fangzhou.workorders.models import Group, Kind, Priority, RequestKind, Urgency
from fangzhou.workorders.services import resident_request_submit, work_order_create

_OUTSIDE_NAMES = ("周建国", "吴海燕", "郑晓东", "孙丽华", "钱志强", "冯雪梅", "陈立新", "褚卫东", "卫红霞", "蒋文斌")
_SKILLS = ("driver", "medical", "carry", "dialect", "data", "counsel")
# (group, post, place, start hour, hours, needed)
_SHIFTS = (
    (Group.TESTING, Post.SAMPLING_SITE, "1号采样点", 6, 6, 4),
    (Group.TESTING, Post.SAMPLING_SITE, "2号采样点", 6, 6, 3),
    (Group.PATROL, Post.GATE, "东门", 0, 8, 2),
    (Group.PATROL, Post.GATE, "东门", 8, 8, 2),
    (Group.PATROL, Post.GATE, "东门", 16, 8, 2),
    (Group.PATROL, Post.PATROL, "小区巡逻", 20, 4, 2),
    (Group.DATA, Post.DUTY_OFFICE, "居委值班室", 0, 12, 1),
    (Group.DATA, Post.DUTY_OFFICE, "居委值班室", 12, 12, 1),
    (Group.SUPPLIES, Post.OTHER, "物资中转点", 8, 6, 4),
    (Group.DISINFECTION, Post.OTHER, "楼道消杀", 14, 4, 2),
    (Group.MEDICAL, Post.DUTY_OFFICE, "配药登记", 9, 8, 2),
    (Group.CARE, Post.OTHER, "独居老人探访", 10, 6, 2),
)


@dataclass
class VolunteerDemo:
    volunteers: int = 0
    approved: int = 0
    shifts: int = 0
    filled: int = 0
    orders: int = 0
    requests: int = 0
    accounts: list[tuple[str, str, str, str]] = field(default_factory=list)  # username, role, password, scope


def _phone(rng: random.Random) -> str:
    return "13" + "".join(rng.choice("0123456789") for _ in range(9))


def volunteers_demo(community: Community, *, count: int = 40, seed: int = 7) -> VolunteerDemo:
    rng = random.Random(f"{seed}:{community.code}")
    now = timezone.now()
    out = VolunteerDemo()
    groups = {g.code: g for g in services.work_groups_ensure(community=community)}
    codes = list(groups)

    residents = list(
        Resident.objects.filter(community=community)
        .exclude(phone="")
        .filter(birth_date__year__range=(1960, 2002))
        .select_related("household__building__compound")
        .order_by("id")[: count - 10]
    )
    people: list[tuple[str, str, Building | None, str]] = [
        (r.name, r.phone, r.household.building, VolunteerKind.RESIDENT) for r in residents
    ]
    kinds = (VolunteerKind.PARTY_MEMBER, VolunteerKind.CADRE, VolunteerKind.SOCIAL_WORKER)
    for i, name in enumerate(_OUTSIDE_NAMES[: count - len(people)]):
        people.append((name, _phone(rng), None, kinds[i % len(kinds)]))

    volunteers: list[Volunteer] = []
    for i, (name, phone, building, kind) in enumerate(people):
        v, _created = services.volunteer_signup(
            community=community,
            client_id=f"demo-{community.code}-{i:04d}",
            name=name,
            phone=phone,
            kind=kind,
            building=building,
            skills=rng.sample(_SKILLS, k=rng.randint(0, 2)),
            availability=rng.choice(("全天", "白天", "晚上 18:00 以后", "周末", "夜班")),
            groups=[codes[i % len(codes)]],
            days=["1", "2", "3", "4", "5"] if i % 2 else ["6", "7"],
            slots=[("morning", "afternoon", "evening", "night")[i % 4]],
        )
        volunteers.append(v)
    out.volunteers = len(volunteers)

    secretary = User.objects.filter(community=community, role=Role.SECRETARY).first()
    pending = set(range(len(volunteers) - 3, len(volunteers)))  # the last three wait for approval
    for i, v in enumerate(volunteers):
        if i in pending:
            continue
        in_groups = [codes[i % len(codes)]] + ([codes[(i + 3) % len(codes)]] if i % 3 == 0 else [])
        approval = services.volunteer_approve(volunteer=v, actor=secretary, groups=in_groups)
        v = approval.volunteer
        out.approved += 1
        # Most tested negative this morning; a few have an old test and are kept off duty.
        hours_ago = 60 if i % 11 == 5 else rng.randint(2, 20)
        services.volunteer_test_record(
            volunteer=v,
            tested_at=(now - dt.timedelta(hours=hours_ago)).replace(minute=0, second=0, microsecond=0),
            result=TestResult.NEGATIVE,
            actor=None,
        )
    approved = list(Volunteer.objects.filter(community=community, status=VolunteerStatus.APPROVED).order_by("id"))

    # One lead per group: its first approved member.
    for code, group in groups.items():
        first = next((v for v in approved if group.members.filter(pk=v.pk).exists()), None)
        if first is not None and first.user is not None and group.lead_id is None:
            services.work_group_lead_set(group=group, lead=first.user, actor=secretary)
        del code

    # A demo volunteer account the presenter can sign in with (new password on every run).
    demo_volunteer = next((v for v in approved if v.user is not None), None)
    if demo_volunteer is not None and demo_volunteer.user is not None:
        password = secrets.token_urlsafe(12)
        user_upsert(
            username=demo_volunteer.user.username,
            password=password,
            role=Role.VOLUNTEER,
            display_name=demo_volunteer.name,
            community=community,
        )
        out.accounts.append((demo_volunteer.user.username, Role.VOLUNTEER, password, f"{community.name} 志愿者"))

    today = timezone.localdate()
    tz = timezone.get_current_timezone()
    for code, post, place, hour, hours, needed in _SHIFTS:
        starts = dt.datetime.combine(today, dt.time(hour), tzinfo=tz)
        _shift, created = services.shift_create(
            group=groups[code],
            post=post,
            place=place,
            starts_at=starts,
            ends_at=starts + dt.timedelta(hours=hours),
            needed=needed,
            actor=None,
        )
        out.shifts += int(created)
    out.filled = services.shifts_autofill(community=community, day=today, actor=None)

    # Open work orders: re-tests at doors, medicine, deliveries, a dialysis ride.
    residents_all = list(
        Resident.objects.filter(community=community, household__building__community=community)  # scoped join
        .select_related("household__building__compound")
        .order_by("id")[:400]
    )
    if residents_all:
        picks = rng.sample(residents_all, k=min(12, len(residents_all)))
        jobs = (
            (Kind.RETEST, "上门单采复核", "demo.retest", Priority.URGENT, 3),
            (Kind.MEDICINE, "代配降压药", "demo.medicine", Priority.NORMAL, 24),
            (Kind.SUPPLY_DELIVERY, "保供物资送上门", "demo.supplies", Priority.NORMAL, 12),
            (Kind.CARE_CHECKIN, "独居老人电话+上门探访", "demo.care", Priority.NORMAL, 8),
        )
        for i, r in enumerate(picks):
            kind, title, code, priority, due_h = jobs[i % len(jobs)]
            work_order_create(
                community=community,
                kind=kind,
                title=f"{title} · {r.name}",
                title_code=code,
                title_args={"name": r.name},
                actor=secretary,
                priority=priority,
                due_at=now + dt.timedelta(hours=due_h - (30 if i == 0 else 0)),
                resident=r,
                source_key=f"demo:{community.code}:order:{i}",
            )
            out.orders += 1
        dialysis = next((r for r in residents_all if "dialysis" in r.special_codes), None)
        if dialysis is not None:
            work_order_create(
                community=community,
                kind=Kind.MEDICAL_ESCORT,
                title=f"明早血透接送 · {dialysis.name}",
                title_code="demo.dialysis",
                title_args={"name": dialysis.name},
                actor=secretary,
                due_at=now + dt.timedelta(hours=14),
                resident=dialysis,
                source_key=f"demo:{community.code}:dialysis",
            )
            out.orders += 1

    building_tokens_ensure(community=community)
    buildings = list(Building.objects.filter(community=community).order_by("id")[:6])
    asks = (
        (RequestKind.MEDICINE, Urgency.URGENT, "家里老人的胰岛素只剩一天的量了"),
        (RequestKind.FOOD, Urgency.NORMAL, "三口之家，蔬菜和鸡蛋快吃完了"),
        (RequestKind.REPAIR, Urgency.NORMAL, "楼道灯坏了，晚上下楼做核酸看不见"),
        (RequestKind.MENTAL_HEALTH, Urgency.URGENT, "独居，连续几天睡不着，想找人聊聊"),
    )
    for i, building in enumerate(buildings):
        kind, urgency, text = asks[i % len(asks)]
        resident_request_submit(
            building=building,
            kind=kind,
            urgency=urgency,
            text=text,
            client_id=f"demo-{community.code}-req-{i}",
        )
        out.requests += 1
    return out
