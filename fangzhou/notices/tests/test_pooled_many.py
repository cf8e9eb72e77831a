"""The pooled-positive notices of a results import written for all its tubes at once
(``notices_send_many``) are the notices one ``notice_send`` per tube wrote: the same notices,
deliveries (every channel and reason), audit rows and event keys; a second import, or the event
again, writes nothing more; a stored notice or a concurrent writer is met as one at a time did."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from fangzhou.accounts.models import AuditLog
from fangzhou.notices import services
from fangzhou.notices.events import on_pooled_positive
from fangzhou.notices.models import Notice, NoticeDelivery, OptOut, PushSubscription
from fangzhou.notices.services import NoticeSpec, notice_send, notices_send_many
from fangzhou.notices.tests.conftest import channels_on
from fangzhou.registry.models import Household, Resident
from fangzhou.registry.tests.factories import World
from fangzhou.testing.models import Round, Tube
from fangzhou.testing.services import results_import, round_create, sample_take, tube_close
from fangzhou.testing.tests.helpers import DAY, csv_bytes

LAB_HEADER = ["试管编码", "检测结果", "ORF1ab Ct", "N Ct", "检测时间"]


def _one_by_one(tube_ids: list[int]) -> None:
    """The pooled-positive receiver as it was: one ``notice_send`` per tube (the reference)."""
    for tube in Tube.objects.filter(pk__in=tube_ids).select_related("round__community"):
        notice_send(
            community=tube.round.community,
            kind="pool_positive",
            audience="tube",
            audience_args={"tube_id": [tube.pk]},
            event_key=f"pool_positive:tube:{tube.pk}",
        )


def _written() -> dict[str, Any]:
    """Every notice, delivery and notice audit row, keyed by event key (ids and clocks aside;
    sorted by ``repr``: None among the ids)."""
    notices = {n.pk: n for n in Notice.objects.all()}
    keys = {pk: n.event_key for pk, n in notices.items()}
    written = [
        (
            n.event_key,
            n.community_id,
            n.kind,
            sorted(n.args.items()),
            n.text_zh,
            n.text_en,
            n.audience,
            repr(n.audience_args),
            n.urgent,
            n.created_by_id,
            n.recipients,
        )
        for n in notices.values()
    ]
    deliveries = [
        (
            keys[d.notice_id],
            d.community_id,
            d.household_id,
            d.resident_id,
            d.volunteer_id,
            d.recipient_key,
            d.subscription_id,
            d.channel,
            d.status,
            d.attempts,
            d.next_attempt_at,
            d.sent_at is None,
            d.read_at,
            d.reason,
            d.provider_ref,
        )
        for d in NoticeDelivery.objects.all()
    ]
    audit = [
        (a.actor_id, a.target_type, keys[int(a.target_id)], a.community_id, sorted(a.detail.items()))
        for a in AuditLog.objects.filter(action="notice.send")
    ]
    return {
        "notices": sorted(written, key=repr),
        "deliveries": sorted(deliveries, key=repr),
        "audit": sorted(audit, key=repr),
    }


def _forget_notices() -> None:
    AuditLog.objects.filter(action="notice.send").delete()
    Notice.objects.all().delete()


def _round_with_two_positive_tubes(world: World) -> tuple[Round, list[int], bytes]:
    """T-0001: 张伟 and 李娜 (3-101), 王秀英 (3-102); T-0002: 刘洋 (5-201); T-0003: a new household
    of two in 5-202; all three positive but T-0003, negative. Channels on: SMS (张伟 opted out, so
    李娜's phone; 王秀英 has none) and Web Push (two browsers in 3-101, a withdrawn one in 5-201)."""
    channels_on(world)
    homes = {f"{h.building.number}-{h.room}": h for h in Household.objects.select_related("building")}
    for name, home in (("3-101a", "3-101"), ("3-101b", "3-101"), ("5-201", "5-201")):
        PushSubscription.objects.create(
            household=homes[home],
            community=world.community,
            endpoint=f"https://push.example/{name}",
            p256dh="k",
            auth="a",
            gone_at=timezone.now() if name == "5-201" else None,
        )
    OptOut.objects.create(resident=world.resident("张伟"), channel="sms")
    home = Household.objects.create(building=world.b5, room="202")
    pair = [
        Resident.objects.create(community=world.community, household=home, name=name, id_number=f"X{n}")
        for n, name in enumerate(("周一", "吴二"))
    ]
    zhang, li, wang, liu = (world.resident(n) for n in ("张伟", "李娜", "王秀英", "刘洋"))
    rnd = round_create(community=world.community, date=DAY, pool_size=3, actor=world.secretary)
    sample_take(round=rnd, residents=[zhang, li, wang], actor=world.secretary, station="s1", tube_code="T-0001")
    for code, people in (("T-0002", [liu]), ("T-0003", pair)):
        tube_close(
            tube=sample_take(round=rnd, residents=people, actor=world.secretary, station="s1", tube_code=code).tube,
            actor=world.secretary,
        )
    lab = csv_bytes(
        [
            LAB_HEADER,
            ["T-0001", "阳性", "28", "30", "2022-04-12 20:00"],
            ["T-0002", "阳性", "31", "33", "2022-04-12 20:00"],
            ["T-0003", "阴性", "", "", "2022-04-12 20:00"],
        ]
    )
    tubes = list(
        Tube.objects.filter(round=rnd, code__in=["T-0001", "T-0002"]).order_by("pk").values_list("pk", flat=True)
    )
    return rnd, tubes, lab


@pytest.mark.django_db
def test_the_set_based_notices_are_the_ones_sent_one_by_one(
    world: World, django_capture_on_commit_callbacks: Any
) -> None:
    rnd, tubes, lab = _round_with_two_positive_tubes(world)
    with django_capture_on_commit_callbacks(execute=False) as after:  # the import's receivers, run below
        results_import(round=rnd, data=lab, filename="lab.csv", actor=world.secretary)
    assert not Notice.objects.exists()
    with django_capture_on_commit_callbacks(execute=False) as jobs:
        for callback in after:
            callback()
    bulk = _written()
    assert len(bulk["notices"]) == 2
    assert len(jobs) == 1  # one job sends every queued delivery of the import's notices
    reasons = {(d[7], d[8], d[13]) for d in bulk["deliveries"]}
    assert reasons >= {
        ("page", "sent", ""),
        ("sms", "queued", ""),  # 李娜's phone for 3-101 (张伟 opted out)
        ("sms", "skipped", "no_phone"),  # 3-102
        ("push", "queued", ""),  # 3-101's two browsers
        ("push", "skipped", "no_subscription"),  # 3-102, and 5-201's browser withdrew
    }

    _forget_notices()
    with django_capture_on_commit_callbacks(execute=False):
        _one_by_one(tubes)
    assert _written() == bulk


@pytest.mark.django_db
def test_a_second_import_or_the_event_again_writes_nothing(
    world: World, django_capture_on_commit_callbacks: Any
) -> None:
    rnd, tubes, lab = _round_with_two_positive_tubes(world)
    with django_capture_on_commit_callbacks(execute=False) as after:
        results_import(round=rnd, data=lab, filename="lab.csv", actor=world.secretary)
    with django_capture_on_commit_callbacks(execute=False):
        for callback in after:
            callback()
    first = _written()
    assert len(first["notices"]) == 2
    with django_capture_on_commit_callbacks(execute=False) as again:
        report = results_import(round=rnd, data=lab, filename="lab.csv", actor=world.secretary)
    assert report.unchanged == 3 and not report.positive_tubes
    with django_capture_on_commit_callbacks(execute=False):
        for callback in again:
            callback()
    with django_capture_on_commit_callbacks(execute=False) as jobs:
        on_pooled_positive(tube_ids=tubes)  # the same event delivered twice
    assert _written() == first
    assert not jobs


@pytest.mark.django_db
def test_stored_notices_and_repeated_keys_are_met_like_one_at_a_time(
    world: World, django_capture_on_commit_callbacks: Any
) -> None:
    _rnd, tubes, _lab = _round_with_two_positive_tubes(world)
    with django_capture_on_commit_callbacks(execute=False):
        stored = notice_send(
            community=world.community,
            kind="pool_positive",
            audience="tube",
            audience_args={"tube_id": [tubes[0]]},
            event_key=f"pool_positive:tube:{tubes[0]}",
        ).notice
        specs = [
            NoticeSpec({"tube_id": [tubes[0]]}, f"pool_positive:tube:{tubes[0]}"),
            NoticeSpec({"tube_id": [tubes[1]]}, f" pool_positive:tube:{tubes[1]} "),
            NoticeSpec({"tube_id": [tubes[1]]}, f"pool_positive:tube:{tubes[1]}"),
        ]
        outcomes = notices_send_many(community=world.community, kind="pool_positive", audience="tube", specs=specs)
    assert [o.created for o in outcomes] == [False, True, True]
    assert outcomes[0].notice.pk == stored.pk and outcomes[1].notice.pk == outcomes[2].notice.pk
    assert Notice.objects.count() == 2
    assert AuditLog.objects.filter(action="notice.send").count() == 2
    bulk = _written()
    _forget_notices()
    with django_capture_on_commit_callbacks(execute=False):
        _one_by_one(tubes)
    assert _written() == bulk


@pytest.mark.django_db
def test_a_notice_stored_meanwhile_falls_back_to_one_at_a_time(
    world: World, django_capture_on_commit_callbacks: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    _rnd, tubes, _lab = _round_with_two_positive_tubes(world)
    with django_capture_on_commit_callbacks(execute=False):
        _one_by_one(tubes[:1])
        monkeypatch.setattr(services, "_stored_notices", lambda community, keys: [])  # it was not there when read
        on_pooled_positive(tube_ids=tubes)
    assert Notice.objects.count() == 2
    monkeypatch.undo()
    bulk = _written()
    _forget_notices()
    with django_capture_on_commit_callbacks(execute=False):
        _one_by_one(tubes)
    assert _written() == bulk


@pytest.mark.django_db
def test_the_statements_do_not_grow_with_the_tubes(world: World, django_capture_on_commit_callbacks: Any) -> None:
    _rnd, tubes, _lab = _round_with_two_positive_tubes(world)
    with django_capture_on_commit_callbacks(execute=False), CaptureQueriesContext(connection) as one:
        on_pooled_positive(tube_ids=tubes[:1])
    _forget_notices()
    with django_capture_on_commit_callbacks(execute=False), CaptureQueriesContext(connection) as two:
        on_pooled_positive(tube_ids=tubes)
    assert len(two.captured_queries) == len(one.captured_queries)
