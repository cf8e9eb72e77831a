"""A double tap at two desks and a retried antigen submission: nothing doubled (PostgreSQL)."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from django.db import connection, connections

from fangzhou.registry.tests.factories import build_world
from fangzhou.testing.models import AntigenReport, AntigenSubmission, Sample
from fangzhou.testing.services import TestingError, antigen_report_submit, round_create, sample_take
from fangzhou.testing.tests.helpers import DAY

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL's row locks and real connections"),
]


def _race(n: int, work: Callable[[int], object]) -> tuple[list[object], list[BaseException]]:
    barrier = threading.Barrier(n)
    results: list[object] = []
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            barrier.wait()
            results.append(work(i))
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results, errors


def test_one_resident_sampled_at_two_desks_at_once_goes_into_one_tube() -> None:
    world = build_world()
    rnd = round_create(community=world.community, date=DAY, pool_size=10, actor=None)
    zhang = world.resident("张伟")
    results, errors = _race(4, lambda i: sample_take(round=rnd, residents=[zhang], actor=None, station=f"desk-{i}"))
    assert len(results) == 1 and len(errors) == 3
    assert all(isinstance(e, TestingError) and "张伟" in e.zh for e in errors)
    assert Sample.objects.filter(round=rnd, resident=zhang).count() == 1


def test_the_same_antigen_submission_sent_four_times_is_stored_once() -> None:
    world = build_world()
    li = world.resident("李娜")
    results, errors = _race(
        4,
        lambda i: antigen_report_submit(
            household=li.household, day=DAY, results={li.pk: "negative"}, client_id="same-client-id-1"
        ),
    )
    assert errors == [] and len(results) == 4
    assert AntigenSubmission.objects.count() == 1 and AntigenReport.objects.count() == 1


def test_a_machine_post_sent_four_times_at_once_is_written_once_and_answered_alike() -> None:
    import json

    from django.test import Client

    from fangzhou.accounts.models import ApiReceipt
    from fangzhou.accounts.services import api_token_create

    world = build_world()
    rnd = round_create(community=world.community, date=DAY, pool_size=10, actor=None)
    zhang, li = world.resident("张伟"), world.resident("李娜")
    key = api_token_create(name="app", scopes=["samples:write"], community=world.community, actor=None).key
    body = json.dumps(
        {
            "batch_id": "retry-storm-1",
            "rows": [
                {"sample_id": "a", "tube": "R0001", "id_number": zhang.id_number},
                {"sample_id": "b", "tube": "R0001", "id_number": li.id_number},
            ],
        }
    )

    def post(i: int) -> object:
        answer = Client().post(
            f"/api/testing/rounds/{rnd.pk}/samples/rows",
            body,
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {key}",
        )
        return answer.status_code, answer.json()

    results, errors = _race(4, post)
    assert errors == [] and len(results) == 4
    assert len({json.dumps(r, sort_keys=True) for r in results}) == 1  # four identical answers
    status, answer = results[0]  # type: ignore[misc]
    assert status == 200 and answer["samples"] == 2
    assert Sample.objects.filter(round=rnd).count() == 2 and ApiReceipt.objects.count() == 1
