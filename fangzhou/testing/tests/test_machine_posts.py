"""A lab system posts results and the city sampling app posts samples with their API keys."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from fangzhou.accounts.audit import AuditAction
from fangzhou.accounts.models import AuditLog
from fangzhou.accounts.services import api_token_create
from fangzhou.registry.tests.factories import World
from fangzhou.testing.models import LabResult, Retest, Round, Sample, Tube
from fangzhou.testing.services import round_create
from fangzhou.testing.tests.helpers import DAY, sampled_round

pytestmark = pytest.mark.django_db


def _post(key: str, url: str, body: dict[str, Any]) -> Any:
    return Client().post(
        url, data=json.dumps(body), content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {key}"
    )


def _key(world: World, *scopes: str) -> str:
    return api_token_create(name="lab", scopes=list(scopes), community=world.community, actor=world.secretary).key


def _codes(rnd: Round) -> list[str]:
    return list(Tube.objects.filter(round=rnd).order_by("id").values_list("code", flat=True))


def test_the_lab_posts_results_and_a_repeat_changes_nothing_and_answers_the_same(world: World) -> None:
    rnd = sampled_round(world, pool_size=2)  # pools of two: several tubes
    a, b = _codes(rnd)[:2]
    key = _key(world, "results:write")
    url = f"/api/testing/rounds/{rnd.pk}/results/rows"
    body = {
        "batch_id": "lab-2022-04-12-001",
        "rows": [
            {"tube": a, "result": "阴性", "tested_at": "2022-04-12T20:00:00+08:00"},
            {"tube": b, "result": "positive", "ct_orf1ab": 28.5, "ct_n": 30.1},
            {"tube": "NOPE-1", "result": "阴性"},
        ],
    }
    first = _post(key, url, body)
    assert first.status_code == 200, first.content
    answer = first.json()
    assert answer["tubes"] == 2 and answer["negative"] == 1 and answer["positive_tubes"] == [b]
    assert answer["retests"] >= 1  # the positive pool's members go to a re-test
    assert [(r["row"], r["ref"], r["column"]) for r in answer["rejected"]] == [(3, "NOPE-1", "tube")]
    text = first.content.decode()
    assert not any(r.id_number in text for r in world.community.residents.all())  # nothing personal
    state = (LabResult.objects.count(), Retest.objects.count(), AuditLog.objects.count())

    again = _post(key, url, body)
    assert again.status_code == 200 and again.json() == answer  # the same answer
    assert (LabResult.objects.count(), Retest.objects.count(), AuditLog.objects.count()) == state

    # The same tubes under a new batch id: counted unchanged, nothing written twice.
    later = _post(key, url, {**body, "batch_id": "lab-2022-04-12-002"}).json()
    assert later["tubes"] == 0 and later["unchanged"] == 2
    assert LabResult.objects.count() == state[0]
    # The batch id reused for other rows is a conflict, not a silent replay.
    conflict = _post(key, url, {"batch_id": "lab-2022-04-12-001", "rows": [{"tube": a, "result": "阳性"}]})
    assert conflict.status_code == 409 and conflict["Content-Type"].startswith("application/problem+json")
    assert LabResult.objects.get(tube__code=a).result == "negative"
    imported = AuditLog.objects.filter(action=AuditAction.RESULTS_IMPORT)
    assert imported.count() == 2 and all(row.actor_id is None for row in imported)
    assert all(row.detail["filename"].startswith("api:") for row in imported)  # names the key's prefix


def test_the_sampling_app_posts_samples_idempotent_on_its_sample_id(world: World) -> None:
    zhang, li, wang = (world.resident(n) for n in ("张伟", "李娜", "王秀英"))
    rnd = round_create(community=world.community, date=DAY, pool_size=10, actor=None)
    key = _key(world, "samples:write")
    url = f"/api/testing/rounds/{rnd.pk}/samples/rows"
    body = {
        "batch_id": "city-app-77",
        "rows": [
            {"sample_id": "s1", "tube": "C0001", "id_number": zhang.id_number, "name": "张伟"},
            {"sample_id": "s2", "tube": "C0001", "id_number": li.id_number, "sampled_at": "2022-04-12T08:05:00+08:00"},
            {"sample_id": "s2", "tube": "C0001", "id_number": wang.id_number},  # the same sample id again
            {"sample_id": "s4", "tube": "C0002", "id_number": wang.id_number, "name": "王某某"},  # wrong name
        ],
    }
    first = _post(key, url, body)
    assert first.status_code == 200, first.content
    answer = first.json()
    assert answer["samples"] == 2 and answer["tubes"] == 1
    rejected = {r["ref"]: r for r in answer["rejected"]}
    assert set(rejected) == {"s2", "s4"} and rejected["s2"]["row"] == 3 and rejected["s2"]["column"] == "sample_id"
    assert "王秀英" not in first.content.decode()  # the registered name is never told
    assert set(Sample.objects.filter(round=rnd).values_list("resident__name", flat=True)) == {"张伟", "李娜"}

    again = _post(key, url, body)
    assert again.json() == answer and Sample.objects.filter(round=rnd).count() == 2
    resent = _post(key, url, {"batch_id": "city-app-78", "rows": body["rows"][:2]}).json()
    assert resent["samples"] == 0 and resent["unchanged"] == 2


def test_another_communitys_round_is_404_and_the_wrong_scope_403(world: World) -> None:
    theirs = round_create(community=world.other, date=DAY, pool_size=10, actor=None)
    ours = round_create(community=world.community, date=DAY, pool_size=10, actor=None)
    results = _key(world, "results:write")
    body = {"batch_id": "b1", "rows": [{"tube": "X", "result": "阴性"}]}
    hidden = _post(results, f"/api/testing/rounds/{theirs.pk}/results/rows", body)
    missing = _post(results, f"/api/testing/rounds/{theirs.pk + 1000}/results/rows", body)
    assert hidden.status_code == missing.status_code == 404
    assert hidden.json() == missing.json()  # the same answer whether or not the round exists
    samples_body = {"batch_id": "b1", "rows": [{"sample_id": "s", "tube": "X", "id_number": "1"}]}
    assert _post(results, f"/api/testing/rounds/{ours.pk}/samples/rows", samples_body).status_code == 403
    reasons = list(
        AuditLog.objects.filter(action=AuditAction.API_TOKEN_REFUSE).values_list("detail__reason", flat=True)
    )
    assert sorted(reasons) == ["other_place", "other_place", "scope:samples:write"]
    # A session, even the committee's own, is not a key: these endpoints answer 401.
    client = Client()
    client.force_login(world.secretary)
    answer = client.post(f"/api/testing/rounds/{ours.pk}/results/rows", json.dumps(body), "application/json")
    assert answer.status_code == 401


def test_a_subdistrict_key_reaches_every_community_of_its_subdistrict_only(world: World) -> None:
    from fangzhou.registry.services import community_create

    neighbour = community_create(code="T09", name="邻居居民区", subdistrict_name=world.community.subdistrict.name)
    key = api_token_create(
        name="区检测中心", scopes=["results:write"], subdistrict=world.community.subdistrict, actor=None
    ).key
    body = {"batch_id": "b", "rows": []}
    for community, status in ((world.community, 200), (neighbour, 200), (world.other, 404)):
        rnd = round_create(community=community, date=DAY, pool_size=10, actor=None)
        assert _post(key, f"/api/testing/rounds/{rnd.pk}/results/rows", body).status_code == status
