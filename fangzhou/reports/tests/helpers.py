"""A day of operations in the test world, built through the real services."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from django.test import Client
from django.utils import timezone

from fangzhou.accounts.models import User
from fangzhou.cases.services import case_confirm
from fangzhou.registry.models import Resident
from fangzhou.registry.tests.factories import World
from fangzhou.testing.models import Round
from fangzhou.testing.services import (
    antigen_report_submit,
    results_import,
    round_create,
    sample_take,
    tube_close,
)

LAB_HEADER = ["试管编码", "检测结果", "ORF1ab Ct", "N Ct", "检测时间"]


def client_for(user: User | None) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def csv_bytes(rows: list[list[str]]) -> bytes:
    return ("\n".join(",".join(r) for r in rows) + "\n").encode("utf-8")


@dataclass
class Day:
    today: dt.date
    round: Round


def busy_day(world: World) -> Day:
    """Today: a mass round (room 3-101 sampled in one tube, found positive; 王秀英 missed), the
    household of 3-101 reports its antigen results, and 刘洋 (5-201, living alone) becomes a case."""
    today = timezone.localdate()
    zhang, li = Resident.objects.get(name="张伟"), Resident.objects.get(name="李娜")
    rnd = round_create(community=world.community, date=today, pool_size=10, actor=world.secretary)
    taken = sample_take(round=rnd, residents=[zhang, li], actor=world.secretary, station="desk-1")
    tube_close(tube=taken.tube, actor=world.secretary)
    lab = csv_bytes([LAB_HEADER, [taken.tube.code, "阳性", "28", "30", f"{today.isoformat()} 18:00"]])
    results_import(round=rnd, data=lab, filename="lab.csv", actor=world.secretary)
    antigen_report_submit(
        household=zhang.household,
        day=today,
        results={zhang.pk: "negative", li.pk: "negative"},
        client_id=uuid.uuid4().hex,
    )
    case_confirm(resident=Resident.objects.get(name="刘洋"), report_date=today, source="staff", actor=world.secretary)
    return Day(today=today, round=rnd)
