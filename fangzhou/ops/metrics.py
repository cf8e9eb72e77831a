"""Prometheus metrics at ``/metrics`` (prometheus_client).

Per process: requests by view, method and status, and their duration (recorded by the request-log
middleware, which already knows the route and the time). Read at scrape time, the same from every
process: the job queue's length (Redis ``LLEN`` of the Celery queue), scheduled runs by job and
outcome (``ops.JobRun``: failures included), route plans by status (a failed plan is a failed job),
and the notices' backlog (deliveries queued, and those already due). With several gunicorn workers set
``PROMETHEUS_MULTIPROC_DIR`` to an empty directory: the per-process series are then summed over the
workers (prometheus_client's multiprocess mode).

Not public: the endpoint answers a request that came through a proxy (``X-Forwarded-For``) with 404,
so nginx never shows it, and a direct request only from loopback — or, when ``FANGZHOU_METRICS_TOKEN``
is set, from anywhere with ``Authorization: Bearer <token>`` (a Prometheus on another machine).
"""

from __future__ import annotations

import hmac
import ipaddress
import os
from collections.abc import Iterator
from typing import Any

from django.conf import settings
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

REQUESTS = Counter("fangzhou_requests", "Requests answered, by view, method and status", ["view", "method", "status"])
DURATION = Histogram(
    "fangzhou_request_duration_seconds",
    "Time to answer a request, by view",
    ["view"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)


# The labelled series of each (view, method, status) seen, so that a request does not look its two
# series up by their labels again (prometheus_client's ``labels()`` checks and joins them each call:
# a tenth of the public submit's request-log middleware). A few hundred at most: the views × the
# methods × the statuses each answers, as many as the collectors themselves keep.
_SERIES: dict[tuple[str, str, int], tuple[Any, Any]] = {}


def observe(view: str | None, method: str | None, status: int, seconds: float) -> None:
    key = (view or "unresolved", method or "", status)
    series = _SERIES.get(key)
    if series is None:
        series = _SERIES[key] = (REQUESTS.labels(key[0], key[1], str(status)), DURATION.labels(key[0]))
    series[0].inc()
    series[1].observe(seconds)


def queue_length() -> int | None:
    """Messages waiting in the Celery queue (Redis list), or ``None`` without Celery."""
    if settings.FANGZHOU_JOBS != "celery":
        return None
    import redis

    client = redis.Redis.from_url(settings.CELERY_BROKER_URL, socket_timeout=2)
    try:
        return int(client.llen(settings.FANGZHOU_CELERY_QUEUE))
    finally:
        client.close()


class StateCollector(Collector):
    """Gauges read from the database and the broker at each scrape."""

    def collect(self) -> Iterator[Any]:
        from fangzhou.notices.models import DeliveryStatus, NoticeDelivery
        from fangzhou.ops.models import JobRun
        from fangzhou.supplies.models import RoutePlan

        length = queue_length()
        if length is not None:
            queue = GaugeMetricFamily("fangzhou_job_queue_length", "Jobs waiting in the broker", labels=["queue"])
            queue.add_metric([settings.FANGZHOU_CELERY_QUEUE], length)
            yield queue
        runs = GaugeMetricFamily(
            "fangzhou_scheduled_runs", "Scheduled runs recorded, by job and outcome", labels=["job", "outcome"]
        )
        for row in JobRun.objects.values("job", "outcome").annotate(n=Count("id")).order_by():
            runs.add_metric([row["job"], row["outcome"]], row["n"])
        yield runs
        plans = GaugeMetricFamily("fangzhou_route_plans", "Route-plan jobs, by status", labels=["status"])
        for plan in RoutePlan.objects.values("status").annotate(n=Count("id")).order_by():
            plans.add_metric([plan["status"]], plan["n"])
        yield plans
        queued = NoticeDelivery.objects.filter(status=DeliveryStatus.QUEUED)
        yield GaugeMetricFamily("fangzhou_notice_deliveries_queued", "Notice deliveries queued", value=queued.count())
        due = queued.filter(Q(next_attempt_at__lte=timezone.now()) | Q(next_attempt_at=None)).count()
        yield GaugeMetricFamily("fangzhou_notice_deliveries_due", "Queued notice deliveries due now", value=due)


_STATE = StateCollector()


def _registry() -> CollectorRegistry:
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    else:
        for collector in (REQUESTS, DURATION):
            registry.register(collector)
    registry.register(_STATE)
    return registry


def allowed(request: HttpRequest) -> bool:
    token: str = settings.FANGZHOU_METRICS_TOKEN
    if token:
        given = request.META.get("HTTP_AUTHORIZATION", "")
        return hmac.compare_digest(given.encode(), f"Bearer {token}".encode())
    if request.META.get("HTTP_X_FORWARDED_FOR"):
        return False  # through a proxy: from outside this machine
    try:
        return ipaddress.ip_address(request.META.get("REMOTE_ADDR", "")).is_loopback
    except ValueError:
        return False


def metrics(request: HttpRequest) -> HttpResponse:
    if not allowed(request):
        return HttpResponse(status=404)
    return HttpResponse(generate_latest(_registry()), content_type=CONTENT_TYPE_LATEST)
