"""Demo hook: a distribution half delivered, special-care schedules and medicine requests.

The lead calls :func:`care_demo_seed` after the registry's demo generator (idempotent)."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass

from django.utils import timezone

from fangzhou.care import services as care
from fangzhou.care.models import CareProfile, MedicineRequest
from fangzhou.registry.models import Community
from fangzhou.supplies import services as supplies
from fangzhou.supplies.models import Delivery, DeliveryStatus

HOSPITALS = ("瑞金医院", "仁济医院", "第六人民医院")
PHARMACIES = ("社区卫生服务中心", "华山医院", "益丰大药房")
MEDICINES = (("氨氯地平", "5mg"), ("二甲双胍", "0.5g"), ("阿托伐他汀", "20mg"), ("胰岛素", "300IU"))


@dataclass
class CareDemo:
    distribution_id: int
    deliveries: int
    delivered: int
    profiles: int
    schedules: int
    medicine_requests: int
    escort_orders: int


def care_demo_seed(*, community: Community, seed: int = 2022) -> CareDemo:
    """Seed one government distribution (about 60% of doors delivered), treatment schedules for
    everyone on dialysis or chemotherapy, due dates for the pregnant, medicine requests, and the
    escort orders due now. Safe to run twice."""
    rng = random.Random(f"{seed}:{community.code}:care")
    today = timezone.localdate()
    dist = supplies.distribution_create(
        community=community,
        name=f"政府保供包 {today:%m-%d}",
        kind="government",
        on=today,
        package={"大米(5kg)": 1, "食用油": 1, "蔬菜包": 1},
        actor=None,
    )
    supplies.distribution_allocate(distribution=dist, actor=None)
    pending = list(
        Delivery.objects.filter(distribution=dist, status=DeliveryStatus.PENDING).values_list("pk", flat=True)
    )
    total = Delivery.objects.filter(distribution=dist).count()
    want = int(total * 0.6) - (total - len(pending))
    from fangzhou.accounts.models import Role, User

    actor = User.objects.filter(community=community, role__in=[Role.SECRETARY, Role.SOCIAL_WORKER]).first()
    if actor is not None:
        from fangzhou.zones.selectors import sealed_building_ids

        sealed = sealed_building_ids(community, today)
        building_of = dict(Delivery.objects.filter(distribution=dist).values_list("pk", "building_id"))
        for delivery_id in rng.sample(pending, max(0, min(want, len(pending)))):
            supplies.delivery_mark(
                delivery_id=delivery_id, actor=actor, today=today, sealed=building_of[delivery_id] in sealed
            )
    care.care_registry_sync(community=community, actor=None)
    schedules = 0
    for profile in CareProfile.objects.filter(community=community).prefetch_related("schedules"):
        codes = profile.need_codes
        for kind in ("dialysis", "chemotherapy"):
            if kind in codes and not any(s.kind == kind for s in profile.schedules.all()):
                days = "1,3,5" if kind == "dialysis" else str(rng.randint(1, 5))
                care.treatment_schedule_set(
                    profile_id=profile.pk,
                    actor=None,
                    kind=kind,
                    weekdays=days,
                    at=dt.time(rng.choice((7, 8, 13)), 0),
                    hospital=rng.choice(HOSPITALS),
                )
                schedules += 1
        if "pregnant" in codes and profile.due_date is None:
            care.care_profile_update(
                profile_id=profile.pk,
                actor=actor,  # type: ignore[arg-type]
                due_date=today + dt.timedelta(days=rng.randint(1, 120)),
            )
    chronic = list(
        CareProfile.objects.filter(community=community, needs__contains="chronic").select_related("resident")[:12]
    )
    for i, profile in enumerate(chronic):
        name, dose = MEDICINES[i % len(MEDICINES)]
        care.medicine_request_create(
            resident=profile.resident,
            actor=None,
            medicines=[{"name": name, "dose": dose, "quantity": f"{rng.randint(1, 3)}盒"}],
            pharmacy=PHARMACIES[i % len(PHARMACIES)],
            prescription="医保卡",
            urgency=1 if i % 4 == 0 else 2,
            client_id=f"demo:{community.code}:{profile.pk}",
        )
    escorts = care.care_escorts_ensure(community=community)
    return CareDemo(
        distribution_id=dist.pk,
        deliveries=total,
        delivered=Delivery.objects.filter(distribution=dist).exclude(status=DeliveryStatus.PENDING).count(),
        profiles=CareProfile.objects.filter(community=community).count(),
        schedules=schedules,
        medicine_requests=MedicineRequest.objects.filter(community=community).count(),
        escort_orders=escorts.created,
    )
