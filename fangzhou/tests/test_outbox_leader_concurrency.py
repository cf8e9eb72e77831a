"""A leader's phone on a flaky link resends the same tap while the first is still in flight: a
household's antigen results and a typed request are each stored once, with one receipt
(PostgreSQL, real concurrent connections)."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection, connections
from django.test import Client

from fangzhou.registry.tests.factories import build_world
from fangzhou.testing.models import AntigenReport, AntigenSubmission
from fangzhou.workorders.models import OutboxReceipt, ResidentRequest, WorkOrder

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL and real concurrent connections"),
]

COPIES = 8


def at_once(send: Callable[[Client], Any], user: Any) -> list[int]:
    barrier = threading.Barrier(COPIES)
    answers: list[int] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def one() -> None:
        try:
            client = Client()
            client.force_login(user)
            barrier.wait()
            status = send(client).status_code
            with lock:
                answers.append(status)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=one) for _ in range(COPIES)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    return answers


def test_a_leaders_taps_sent_eight_times_at_once_are_stored_once() -> None:
    world = build_world()
    zhang = world.resident("张伟")
    antigen = {"client_id": uuid.uuid4().hex, "done_at_client": "2022-04-20T08:12:00+08:00", f"r{zhang.pk}": "negative"}
    url = f"/testing/antigen/h/{zhang.household_id}/report/"
    answers = at_once(lambda c: c.post(url, antigen, HTTP_X_FANGZHOU_OUTBOX="1"), world.leader)
    assert answers == [200] * COPIES
    assert AntigenSubmission.objects.count() == 1 and AntigenReport.objects.filter(resident=zhang).count() == 1
    assert OutboxReceipt.objects.filter(client_id=antigen["client_id"]).count() == 1

    typed = {
        "client_id": uuid.uuid4().hex,
        "done_at_client": "2022-04-20T08:15:00+08:00",
        "building": world.b3.pk,
        "room": "101",
        "kind": "food",
        "text": "家里没有米了",
    }
    answers = at_once(lambda c: c.post("/orders/requests/type/", typed, HTTP_X_FANGZHOU_OUTBOX="1"), world.leader)
    assert answers == [200] * COPIES
    request = ResidentRequest.objects.get()
    assert WorkOrder.objects.filter(source_key=f"request:{request.pk}").count() == 1
    assert OutboxReceipt.objects.filter(client_id=typed["client_id"]).count() == 1
