"""/metrics: requests by view and status, the job queue, scheduled failures, the notices' backlog;
never through the proxy, from loopback or with the token."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from fangzhou.notices.models import Channel, DeliveryStatus, Notice, NoticeDelivery
from fangzhou.ops.models import JobRun
from fangzhou.registry.tests.factories import World


def _value(text: str, series: str) -> float:
    match = re.search(rf"^{re.escape(series)} ([0-9.e+-]+)$", text, re.MULTILINE)
    assert match, f"{series} not in the metrics"
    return float(match.group(1))


def _scrape(client: Client, **extra: str) -> str:
    response = client.get("/metrics", REMOTE_ADDR="127.0.0.1", **extra)  # type: ignore[arg-type]
    assert response.status_code == 200 and response["Content-Type"].startswith("text/plain")
    return response.content.decode()


def test_requests_by_view_and_status_and_the_state_of_the_work(world: World, client: Client) -> None:
    before = _scrape(client)
    client.get("/accounts/login/")
    client.get("/no-such-page/")
    text = _scrape(client)
    login = 'fangzhou_requests_total{method="GET",status="200",view="accounts:login"}'
    assert _value(text, login) == (_value(before, login) if login in before else 0) + 1
    assert 'fangzhou_requests_total{method="GET",status="404",view="unresolved"}' in text
    assert 'fangzhou_request_duration_seconds_count{view="accounts:login"}' in text

    JobRun.objects.create(job="escalate", slot="s1", started_at="2026-04-01T00:00Z", outcome="failed")
    notice = Notice.objects.create(
        community=world.community, kind="custom", text_zh="核酸通知", audience="building", event_key="t:1"
    )
    for key in ("h:1", "h:2"):
        NoticeDelivery.objects.create(
            notice=notice,
            community=world.community,
            recipient_key=key,
            channel=Channel.SMS,
            status=DeliveryStatus.QUEUED,
        )
    text = _scrape(client)
    assert _value(text, 'fangzhou_scheduled_runs{job="escalate",outcome="failed"}') == 1
    assert _value(text, "fangzhou_notice_deliveries_queued") == 2
    assert _value(text, "fangzhou_notice_deliveries_due") == 2
    assert "fangzhou_job_queue_length" not in text  # jobs run in-process: no broker queue
    assert "核酸" not in text and "13800001234" not in text


def test_not_through_the_proxy_nor_from_outside(client: Client, settings: object, db: None) -> None:
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="203.0.113.7").status_code == 404
    assert client.get("/metrics", REMOTE_ADDR="203.0.113.7").status_code == 404


def test_with_a_token_from_anywhere_that_holds_it(client: Client, settings: object, db: None) -> None:
    settings.FANGZHOU_METRICS_TOKEN = "s3cret-scrape"  # type: ignore[attr-defined]
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 404
    ok = client.get("/metrics", REMOTE_ADDR="10.0.0.9", HTTP_AUTHORIZATION="Bearer s3cret-scrape")
    assert ok.status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="10.0.0.9", HTTP_AUTHORIZATION="Bearer nope").status_code == 404


@pytest.mark.django_db
def test_the_queue_length_is_the_brokers_list(settings: object) -> None:
    import socket

    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=0.5).close()
    except OSError:
        pytest.skip("no Redis on 127.0.0.1:6379")
    import redis

    from fangzhou.ops.metrics import queue_length

    settings.FANGZHOU_JOBS = "celery"  # type: ignore[attr-defined]
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:6379/12"  # type: ignore[attr-defined]
    settings.FANGZHOU_CELERY_QUEUE = "metrics-test"  # type: ignore[attr-defined]
    r = redis.Redis(db=12)
    r.delete("metrics-test")
    r.rpush("metrics-test", "a", "b", "c")
    try:
        assert queue_length() == 3
    finally:
        r.delete("metrics-test")
