"""The production stack on this machine: nginx (Debian's) in front of two gunicorn instances on
PostgreSQL and Redis, a Celery worker and Celery beat (`fangzhou scheduler`) on Redis, checked
through nginx as a browser and a resident's phone would use it.

Runs in the PostgreSQL pass of scripts/test.sh (which installs nginx); skipped on SQLite, where two
processes cannot share the suite's in-memory database.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone

from fangzhou.registry.tests.factories import PASSWORD, World

pytestmark = [pytest.mark.stack, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[3]
PROXY_SNIPPET = ROOT / "deploy" / "nginx" / "fangzhou-proxy.conf"
REDIS_DB = 13  # a database of its own for the shared rate-limit counters
BROKER_DB = 14  # and one for the Celery broker (each run on a queue of its own)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_for(url: str, deadline_s: float = 60) -> None:
    import requests

    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        try:
            if requests.get(url, timeout=5).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{url} did not come up")


@dataclass
class Stack:
    base: str
    static_root: Path
    logs: list[Path]
    ports: list[int]
    worker_log: Path
    beat_log: Path


@pytest.fixture
def stack(tmp_path: Path, world: World) -> Iterator[Stack]:
    if connection.vendor != "postgresql":
        pytest.skip("the stack runs on PostgreSQL (the PostgreSQL pass of scripts/test.sh)")
    nginx = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if nginx is None:
        pytest.skip("nginx is not installed (scripts/test.sh installs it)")
    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=0.5).close()
    except OSError:
        pytest.skip("no Redis on 127.0.0.1:6379")

    db = connection.settings_dict
    # A settings module for the stack: the real one, with a low public rate limit so that a few
    # requests show whether both instances count together, and the tests' password hasher.
    (tmp_path / "stack_settings.py").write_text(
        "from fangzhou.settings import *  # noqa: F403\n"
        "FANGZHOU_PUBLIC_RATE_PER_ADDRESS = 3\n"
        "FANGZHOU_API_TOKEN_RATE = 5\n"  # and a machine client's key: 5 a window across both
        # windows of a day, as in every test (conftest): a count never straddles a window's end
        "FANGZHOU_PUBLIC_RATE_WINDOW_S = FANGZHOU_API_TOKEN_RATE_WINDOW_S = 86400\n"
        # beat fires the escalation every 2 seconds (production: 5 minutes); routes solve fast
        "FANGZHOU_SCHEDULE_EVERY_S = {'escalate': 2}\n"
        "FANGZHOU_ROUTE_TIME_LIMIT_S = 0.5\n"
        # the suite's personas are hashed fast (conftest): the servers must read those hashes
        "PASSWORD_HASHERS = [*PASSWORD_HASHERS, 'django.contrib.auth.hashers.MD5PasswordHasher']  # noqa: F405\n"
    )
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "DJANGO_ALLOW"))},
        "PYTHONPATH": ":".join([str(tmp_path), str(ROOT), *filter(None, os.environ.get("PYTHONPATH", "").split(":"))]),
        "DJANGO_SETTINGS_MODULE": "stack_settings",
        "FANGZHOU_DATA_DIR": str(tmp_path / "data"),
        "DATABASE_URL": f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
        "CACHE_URL": f"redis://127.0.0.1:6379/{REDIS_DB}",
        "FANGZHOU_JOBS": "celery",
        "CELERY_BROKER_URL": f"redis://127.0.0.1:6379/{BROKER_DB}",
        "FANGZHOU_CELERY_QUEUE": f"stack-{os.getpid()}-{tmp_path.name}",
        "DEBUG": "false",
        "PYTHONUNBUFFERED": "1",  # the request log is read back while the servers run
    }
    subprocess.run(
        [sys.executable, "-m", "fangzhou", "manage", "collectstatic", "--noinput", "--verbosity", "0"],
        env=env,
        check=True,
        timeout=120,
    )
    subprocess.run(  # each run starts with no counters
        [sys.executable, "-c", f"import redis; redis.Redis(db={REDIS_DB}).flushdb()"], env=env, check=True
    )
    gunicorn = str(Path(sys.executable).with_name("gunicorn"))
    ports = [free_port(), free_port()]
    processes: list[subprocess.Popen[bytes]] = []
    logs = [tmp_path / f"web{i}.log" for i in range(2)]
    listen = free_port()
    static_root = tmp_path / "data" / "static"
    (tmp_path / "nginx.conf").write_text(
        f"""
user root;
daemon off;
worker_processes 1;
pid {tmp_path}/nginx.pid;
error_log {tmp_path}/nginx-error.log;
events {{ worker_connections 64; }}
http {{
    include /etc/nginx/mime.types;
    access_log {tmp_path}/nginx-access.log;
    client_body_temp_path {tmp_path}/body;
    proxy_temp_path {tmp_path}/proxy;
    fastcgi_temp_path {tmp_path}/fastcgi;
    uwsgi_temp_path {tmp_path}/uwsgi;
    scgi_temp_path {tmp_path}/scgi;
    upstream fangzhou {{ server 127.0.0.1:{ports[0]}; server 127.0.0.1:{ports[1]}; keepalive 4; }}
    server {{
        listen 127.0.0.1:{listen};
        location /static/ {{ alias {static_root}/; }}
        location / {{ include {PROXY_SNIPPET}; }}
    }}
}}
"""
    )
    try:
        for port, log in zip(ports, logs, strict=True):
            processes.append(
                subprocess.Popen(
                    [
                        gunicorn,
                        "fangzhou.wsgi:application",
                        "--bind",
                        f"127.0.0.1:{port}",
                        "--workers",
                        "1",
                        "--threads",
                        "2",
                        "--timeout",
                        "60",
                    ],
                    env=env,
                    stdout=log.open("wb"),
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )
        worker_log, beat_log = tmp_path / "worker.log", tmp_path / "beat.log"
        celery = str(Path(sys.executable).with_name("celery"))
        queue = env["FANGZHOU_CELERY_QUEUE"]
        worker = [celery, "-A", "fangzhou.celery", "worker", "-Q", queue, "--concurrency", "1", "--pool", "solo"]
        processes.append(
            subprocess.Popen(
                [*worker, "--loglevel", "INFO", "--without-gossip", "--without-mingle", "--without-heartbeat"],
                env=env,
                stdout=worker_log.open("wb"),
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        )
        processes.append(
            subprocess.Popen(
                [sys.executable, "-m", "fangzhou", "scheduler"],
                env=env,
                stdout=beat_log.open("wb"),
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        )
        processes.append(
            subprocess.Popen(
                [nginx, "-c", str(tmp_path / "nginx.conf"), "-p", str(tmp_path)],
                stdout=subprocess.DEVNULL,
                stderr=(tmp_path / "nginx-stderr.log").open("wb"),
                start_new_session=True,
            )
        )
        for port in ports:
            wait_for(f"http://127.0.0.1:{port}/healthz")
        wait_for(f"http://127.0.0.1:{listen}/healthz", 20)
        yield Stack(f"http://127.0.0.1:{listen}", static_root, logs, ports, worker_log, beat_log)
    finally:
        for process in processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)


def test_through_nginx(stack: Stack, world: World) -> None:
    import requests

    from fangzhou.registry.services import building_tokens_ensure

    # Static files come from nginx itself: no request id, which every answer of the app carries.
    css = next(stack.static_root.rglob("*.css"))
    static = requests.get(f"{stack.base}/static/{css.relative_to(stack.static_root)}", timeout=5)
    assert static.status_code == 200 and static.content == css.read_bytes()
    assert "X-Request-ID" not in static.headers

    # Both instances are ready.
    ready = requests.get(f"{stack.base}/readyz", timeout=5)
    assert ready.status_code == 200 and ready.json()["status"] == "ready"

    # Sign-in with CSRF, as a browser does; the session works on both instances.
    browser = requests.Session()
    login_page = browser.get(f"{stack.base}/accounts/login/", timeout=10)
    assert login_page.status_code == 200
    signed_in = browser.post(
        f"{stack.base}/accounts/login/",
        data={
            "username": world.secretary.username,
            "password": PASSWORD,
            "csrfmiddlewaretoken": browser.cookies["csrftoken"],
        },
        allow_redirects=False,
        timeout=10,
    )
    assert signed_in.status_code == 302, signed_in.text[:500]
    pages = [browser.get(f"{stack.base}/c/{world.community.code}/", timeout=10) for _ in range(2)]
    assert all(p.status_code == 200 and world.community.name in p.text for p in pages)

    # A resident's antigen report from the building's public page, no account.
    building_tokens_ensure(community=world.community)
    world.b3.refresh_from_db()
    token = world.b3.public_token
    phone = requests.Session()
    assert phone.get(f"{stack.base}/testing/a/{token}/", timeout=10).status_code == 200
    csrf = {"X-CSRFToken": phone.cookies["csrftoken"]}
    members = phone.post(
        f"{stack.base}/testing/a/{token}/identify/", data={"room": "101", "phone4": "1234"}, headers=csrf, timeout=10
    ).json()["members"]
    results = json.dumps({m["id"]: "negative" for m in members})
    form = {"room": "101", "phone4": "1234", "day": timezone.localdate().isoformat(), "client_id": "stack-0001"}
    stored = phone.post(
        f"{stack.base}/testing/a/{token}/submit/", data={**form, "results": results}, headers=csrf, timeout=10
    )
    assert stored.json()["stored"] is True, stored.text

    # The rate limit is shared by both instances (Redis), per client address taken from the proxy header.
    def guesses(address: str) -> list[int]:
        return [
            phone.post(
                f"{stack.base}/testing/a/{token}/identify/",
                data={"room": "101", "phone4": "0000"},
                headers={**csrf, "X-Forwarded-For": address},
                timeout=10,
            ).status_code
            for _ in range(5)
        ]

    assert guesses("203.0.113.7") == [404, 404, 404, 429, 429]  # 3 in all, not 3 per instance
    assert guesses("203.0.113.8")[0] == 404  # another address has its own count

    # The app's request log has nginx's request id, on the two instances together.
    ids = {stored.headers["X-Request-ID"], pages[0].headers["X-Request-ID"], pages[1].headers["X-Request-ID"]}
    assert all(re.fullmatch(r"[0-9a-f]{32}", i) for i in ids)  # nginx's $request_id
    lines = [json.loads(line) for log in stack.logs for line in log.read_text().splitlines() if line.startswith("{")]
    logged = {line["request_id"]: line for line in lines if line.get("logger") == "fangzhou.request"}
    assert ids <= set(logged)
    assert {logged[i]["route"] for i in ids} == {"c/<str:code>/", "testing/a/<str:token>/submit/"}
    assert all(stack.logs[i].read_text().count('"logger": "fangzhou.request"') > 0 for i in range(2))  # both served
    assert token not in "".join(log.read_text() for log in stack.logs)


def test_a_machine_clients_key_through_nginx_counted_by_both_instances(stack: Stack, world: World) -> None:
    """A district system's key, through nginx to two gunicorn instances sharing Redis: the key's
    limit holds across them, a revoked key is refused at once by both, every refusal is audited."""
    import requests

    from fangzhou.accounts.audit import AuditAction
    from fangzhou.accounts.models import AuditLog
    from fangzhou.accounts.services import api_token_create, api_token_revoke

    made = api_token_create(
        name="区日报系统", scopes=["reports:read"], subdistrict=world.community.subdistrict, actor=world.officer
    )
    url = f"{stack.base}/api/reports/subdistrict"
    headers = {"Authorization": f"Bearer {made.key}"}
    statuses = [requests.get(url, headers=headers, timeout=30).status_code for _ in range(12)]
    assert statuses.count(200) == 5 and statuses[5:] == [429] * 7  # 5 a minute, not 5 per instance
    refused = requests.get(url, headers=headers, timeout=30)
    assert refused.headers["Content-Type"].startswith("application/problem+json")
    assert int(refused.headers["Retry-After"]) >= 1
    assert all("api/reports/subdistrict" in log.read_text() for log in stack.logs)  # both instances served it
    api_token_revoke(token=made.token, actor=world.officer)
    assert {requests.get(url, headers=headers, timeout=30).status_code for _ in range(4)} == {401}
    reasons = list(
        AuditLog.objects.filter(action=AuditAction.API_TOKEN_REFUSE).values_list("detail__reason", flat=True)
    )
    assert reasons.count("rate_limited") == 1 and reasons.count("revoked") == 4


def _until(check: Callable[[], bool], what: str, logs: list[Path], deadline_s: float = 60) -> None:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if check():
            return
        time.sleep(0.3)
    tails = "\n".join(f"--- {log.name}\n{log.read_text()[-3000:]}" for log in logs)
    raise AssertionError(f"{what} did not happen\n{tails}")


def test_a_route_plan_on_the_worker_and_the_schedule_on_beat(stack: Stack, world: World) -> None:
    """Through nginx, the committee asks for routes: the plan is solved by the Celery worker. Beat
    fires the escalation on its (test) interval of 2 s; every slot runs once, on the worker.
    /metrics answers on an instance's own port, never through nginx."""
    import requests

    from fangzhou.ops.models import JobRun
    from fangzhou.registry.tests.factories import place
    from fangzhou.supplies.models import PlanStatus, RoutePlan

    place(world)
    browser = requests.Session()
    browser.get(f"{stack.base}/accounts/login/", timeout=10)
    browser.post(
        f"{stack.base}/accounts/login/",
        data={
            "username": world.secretary.username,
            "password": PASSWORD,
            "csrfmiddlewaretoken": browser.cookies["csrftoken"],
        },
        timeout=10,
    )
    routes = f"{stack.base}/supplies/c/{world.community.code}/routes/"
    assert browser.get(routes, timeout=10).status_code == 200
    asked = browser.post(
        routes,
        data={
            "buildings": [world.b3.pk, world.b5.pk],
            "volunteers": [world.volunteer.pk],
            "capacity": 10,
            "csrfmiddlewaretoken": browser.cookies["csrftoken"],
        },
        allow_redirects=False,
        timeout=10,
    )
    assert asked.status_code in {302, 303}, asked.text[:500]
    plan = RoutePlan.objects.get(community=world.community)
    logs = [stack.worker_log, stack.beat_log, *stack.logs]
    _until(lambda: RoutePlan.objects.get(pk=plan.pk).status == PlanStatus.DONE, "the route plan", logs)
    assert RoutePlan.objects.get(pk=plan.pk).legs.exists()
    assert re.search(r"Task fangzhou\.run_job\[[-0-9a-f]+\] succeeded", stack.worker_log.read_text())  # on the worker
    assert browser.get(f"{stack.base}/supplies/routes/{plan.pk}/", timeout=10).status_code == 200

    _until(lambda: JobRun.objects.filter(job="escalate", outcome="ok").count() >= 2, "two escalations", logs)
    slots = list(JobRun.objects.filter(job="escalate").values_list("slot", flat=True))
    assert len(slots) == len(set(slots))  # each slot once
    assert "Sending due task escalate (fangzhou.run_scheduled)" in stack.beat_log.read_text()  # beat sent it
    assert "Task fangzhou.run_scheduled[" in stack.worker_log.read_text()  # the worker ran it

    assert requests.get(f"{stack.base}/metrics", timeout=10).status_code == 404  # not through nginx
    scraped = requests.get(f"http://127.0.0.1:{stack.ports[0]}/metrics", timeout=10)
    assert scraped.status_code == 200
    assert (
        "fangzhou_job_queue_length" in scraped.text
        and 'fangzhou_scheduled_runs{job="escalate",outcome="ok"}' in scraped.text
    )
