"""The public edge: the client's address behind our proxies, the shared limiter on every public
page and API endpoint, and the household lock after wrong room + phone digits."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import subprocess
import sys
import textwrap
import time
import uuid
from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client, RequestFactory
from django.urls import get_resolver
from django.utils import timezone

from fangzhou.lib.ratelimit import client_address
from fangzhou.registry.models import Building
from fangzhou.registry.roster.importer import roster_import
from fangzhou.registry.services import building_token_rotate
from fangzhou.registry.tests.factories import World, make_id, roster_sheet
from fangzhou.testing.models import AntigenSubmission
from fangzhou.tests.redis_fixtures import redis_up
from fangzhou.tests.test_every_route import PUBLIC, _routes
from fangzhou.volunteers.services import signup_link_ensure

# --------------------------------------------------------------------------------------------------
# The client's address


class TestClientAddress:
    def _req(self, remote: str, xff: str | None = None) -> Any:
        extra = {"REMOTE_ADDR": remote}
        if xff is not None:
            extra["HTTP_X_FORWARDED_FOR"] = xff
        return RequestFactory().get("/", **extra)

    def test_header_ignored_without_trusted_proxies(self, settings: Any) -> None:
        settings.FANGZHOU_TRUSTED_PROXIES = []
        assert client_address(self._req("198.51.100.7", "203.0.113.9")) == "198.51.100.7"

    def test_header_ignored_from_an_untrusted_peer(self, settings: Any) -> None:
        settings.FANGZHOU_TRUSTED_PROXIES = ["10.0.0.0/8"]
        # The client names our proxy itself: still its own address counts.
        assert client_address(self._req("198.51.100.7", "203.0.113.9, 10.0.0.2")) == "198.51.100.7"

    def test_header_believed_from_a_trusted_proxy_right_to_left(self, settings: Any) -> None:
        settings.FANGZHOU_TRUSTED_PROXIES = ["10.0.0.0/8", "192.0.2.1/32"]
        assert client_address(self._req("10.0.0.2", "203.0.113.9")) == "203.0.113.9"
        # A forged left part is not believed: the right-most address that is not ours is the client.
        assert client_address(self._req("10.0.0.2", "1.2.3.4, 203.0.113.9, 192.0.2.1")) == "203.0.113.9"
        assert client_address(self._req("10.0.0.2", "garbage, 203.0.113.9")) == "203.0.113.9"
        assert client_address(self._req("10.0.0.2", "")) == "10.0.0.2"
        assert client_address(self._req("::ffff:10.0.0.2", "[2001:db8::5]:443")) == "2001:db8::5"

    def test_page_counts_the_forwarded_address_only_behind_a_trusted_proxy(self, world: World, settings: Any) -> None:
        token = building_token_rotate(building=world.b3, actor=None)
        settings.FANGZHOU_PUBLIC_RATE_PER_ADDRESS = 2
        url = f"/zones/p/{token}/"
        # Straight from the Internet: a new header each time does not buy new requests.
        direct = Client(REMOTE_ADDR="198.51.100.7")
        codes = [direct.get(url, HTTP_X_FORWARDED_FOR=f"203.0.113.{n}").status_code for n in range(3)]
        assert codes == [200, 200, 429]
        cache.clear()
        # Behind our proxy: each resident's own address has its own budget.
        settings.FANGZHOU_TRUSTED_PROXIES = ["10.0.0.0/8"]
        proxied = Client(REMOTE_ADDR="10.0.0.2")
        codes = [proxied.get(url, HTTP_X_FORWARDED_FOR=f"203.0.113.{n}").status_code for n in range(3)]
        assert codes == [200, 200, 200]
        codes = [proxied.get(url, HTTP_X_FORWARDED_FOR="203.0.113.50").status_code for _ in range(3)]
        assert codes == [200, 200, 429]


# --------------------------------------------------------------------------------------------------
# Every public route is limited


def _public_routes() -> list[str]:
    found = []
    for route in sorted(set(_routes(get_resolver()))):
        text = route.lstrip("^").rstrip("$")
        if "token" not in text:
            continue
        if any(re.search(p, text) for p in PUBLIC):
            found.append(text)
    return found


@pytest.mark.django_db
def test_every_public_route_is_limited_with_retry_after(world: World, settings: Any) -> None:
    building_token = building_token_rotate(building=world.b3, actor=None)
    signup_token = signup_link_ensure(community=world.community).token
    settings.FANGZHOU_PUBLIC_RATE_PER_ADDRESS = 2
    routes = _public_routes()
    assert len(routes) >= 11, routes  # pages of five apps, the landing page, three API operations
    for route in routes:
        token = signup_token if route.startswith(("volunteers/", "api/volunteers/")) else building_token
        url = "/" + re.sub(r"<(?:\w+:)?token>|\{token\}", token, route)
        url = re.sub(r"<(?:\w+:)?\w+>|\{\w+\}", "x" * 12, url)
        cache.clear()
        client = Client()
        first = client.get(url)
        method = "post" if first.status_code == 405 else "get"
        body: dict[str, Any] = {}
        if method == "post" and url.startswith("/api/"):
            body = {"content_type": "application/json", "data": "{}"}
        cache.clear()
        codes = [getattr(client, method)(url, **body).status_code for _ in range(3)]
        assert codes[:2] != [429, 429] and codes[2] == 429, (url, codes)
        refused = getattr(client, method)(url, **body)
        assert int(refused["Retry-After"]) > 0, url
        if url.startswith("/api/"):
            assert "请稍后再试" in refused.json()["detail"], url


@pytest.mark.django_db
def test_public_api_posts_are_limited_per_token_across_addresses(world: World, settings: Any) -> None:
    """The REST endpoints had no limit at all: 150 of 150 posts made 150 work orders."""
    token = building_token_rotate(building=world.b3, actor=None)
    settings.FANGZHOU_PUBLIC_RATE_PER_TOKEN = 20
    codes = []
    for n in range(30):
        client = Client(REMOTE_ADDR=f"203.0.113.{n}")
        payload = {"kind": "other", "text": f"help {n}", "room": "101", "client_id": uuid.uuid4().hex}
        codes.append(
            client.post(
                f"/api/orders/public/{token}/requests", data=json.dumps(payload), content_type="application/json"
            ).status_code
        )
    assert codes.count(200) == 20 and codes[20:] == [429] * 10


# --------------------------------------------------------------------------------------------------
# 300 households behind one carrier NAT report in the same half hour


@pytest.mark.django_db
def test_three_hundred_households_behind_one_address_all_report(world: World) -> None:
    """Default limits: every household of a 300-household building reports through one address,
    all inside one window (the harshest case of "the same half hour")."""
    born = dt.date(1981, 3, 3)
    rows = [
        [
            "阳光小区",
            "9号楼",
            str(1000 + n),
            "张王李赵刘陈杨黄周吴"[n % 10] + "一二三四五六七八九十"[n // 10 % 10] + "甲乙丙丁"[n // 100],
            make_id("310104", born, 100 + n, n % 2 == 0),
            f"1380{n:07d}",
            "",
            "",
        ]
        for n in range(1, 301)
    ]
    report = roster_import(community=world.community, actor=None, sheet=roster_sheet(rows), filename="big.xlsx")
    assert not report.rejected, report.rejected[:3]
    building = Building.objects.get(community=world.community, number="9")
    token = building_token_rotate(building=building, actor=None)
    client = Client(REMOTE_ADDR="100.64.0.1")  # the carrier's one address
    today = timezone.localdate().isoformat()
    for n in range(1, 301):
        room, phone4 = str(1000 + n), f"{n:04d}"
        assert client.get(f"/testing/a/{token}/").status_code == 200
        who = client.post(f"/testing/a/{token}/identify/", {"room": room, "phone4": phone4})
        assert who.status_code == 200, (n, who.content)
        results = {m["id"]: "negative" for m in who.json()["members"]}
        sent = client.post(
            f"/testing/a/{token}/submit/",
            {"room": room, "phone4": phone4, "day": today, "client_id": f"nat-{n:04d}", "results": json.dumps(results)},
        )
        assert sent.status_code == 200 and sent.json()["stored"], (n, sent.content)
    assert AntigenSubmission.objects.filter(household__building=building).count() == 300


# --------------------------------------------------------------------------------------------------
# Two processes, one cache


@pytest.mark.skipif(not redis_up() and not os.environ.get("CI"), reason="Redis is not running here")
def test_limit_holds_across_two_processes_sharing_redis(tmp_path: Any) -> None:
    subject = f"203.0.113.{os.getpid() % 250}-{uuid.uuid4().hex}"
    script = textwrap.dedent(
        f"""
        import django, sys, time
        django.setup()
        from django.core.cache import cache
        from fangzhou.lib.ratelimit import rate_hit
        barrier = {subject!r} + ":ready"
        cache.add(barrier, 0, 120)
        cache.incr(barrier)
        while int(cache.get(barrier) or 0) < 2:  # both processes up: start together
            time.sleep(0.005)
        allowed = 0
        for _ in range(60):
            allowed += rate_hit("addr", {subject!r}, 50, 86_400) == 0  # a window of a day (conftest)
            time.sleep(0.002)
        print(allowed)
        """
    )
    env = {
        **os.environ,
        "CACHE_URL": "redis://127.0.0.1:6379/7",
        "DJANGO_SETTINGS_MODULE": "fangzhou.settings",
        "FANGZHOU_DATA_DIR": str(tmp_path),
    }
    env.pop("DATABASE_URL", None)
    workers = [
        subprocess.Popen([sys.executable, "-c", script], env=env, stdout=subprocess.PIPE, text=True) for _ in range(2)
    ]
    counts = [int(w.communicate(timeout=60)[0].strip()) for w in workers]
    assert sum(counts) == 50, counts  # 120 hits between them, exactly the limit allowed
    assert all(c > 0 for c in counts), counts


# --------------------------------------------------------------------------------------------------
# Household identify locks one household, not the building


def _add_room(world: World, room: str, phone: str) -> None:
    born = dt.date(1975, 6, 9)
    rows = [["阳光小区", "3号楼", room, "陈静", make_id("310104", born, 77, False), phone, "", "一网格"]]
    roster_import(community=world.community, actor=None, sheet=roster_sheet(rows), filename="one.xlsx")


@pytest.mark.django_db
def test_identify_locks_the_household_and_says_when_to_retry(
    world: World, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    _add_room(world, "103", "13500002468")
    token = building_token_rotate(building=world.b3, actor=None)
    settings.FANGZHOU_IDENTIFY_MAX_FAILURES = 5
    settings.FANGZHOU_IDENTIFY_LOCK_S = 900
    url = f"/testing/a/{token}/identify/"
    guesser = Client(REMOTE_ADDR="198.51.100.66")
    codes = [guesser.post(url, {"room": "101", "phone4": f"{n:04d}"}).status_code for n in range(5)]
    assert codes == [404, 404, 404, 404, 429]
    locked = guesser.post(url, {"room": "101 室", "phone4": "1234"})  # even the right digits, any spelling
    assert locked.status_code == 429 and 0 < int(locked["Retry-After"]) <= 900
    detail = locked.json()["detail"]
    assert "锁定" in detail and "Try again after" in detail and re.search(r"\d\d:\d\d", detail)
    # The submit endpoint guards the same household.
    assert guesser.post(f"/testing/a/{token}/submit/", {"room": "101", "phone4": "1234"}).status_code == 429
    # The rest of the building goes on: the neighbour, from the same address, is recognised.
    neighbour = guesser.post(url, {"room": "103", "phone4": "2468"})
    assert neighbour.status_code == 200 and neighbour.json()["room"] == "103"
    # When the lock ends the household is back; the next lock is longer.
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() + 901)
    assert Client().post(url, {"room": "101", "phone4": "1234"}).status_code == 200
    codes = [guesser.post(url, {"room": "101", "phone4": f"{n:04d}"}).status_code for n in range(5)]
    assert codes[-1] == 429 and 900 < int(guesser.post(url, {"room": "101", "phone4": "1234"})["Retry-After"]) <= 1800


@pytest.mark.django_db
def test_identify_lock_is_per_token(world: World, settings: Any) -> None:
    """A household's lock is kept with its building's token (a new poster starts afresh)."""
    old = building_token_rotate(building=world.b3, actor=None)
    for n in range(5):
        Client().post(f"/testing/a/{old}/identify/", {"room": "101", "phone4": f"{n:04d}"})
    assert Client().post(f"/testing/a/{old}/identify/", {"room": "101", "phone4": "1234"}).status_code == 429
    new = building_token_rotate(building=world.b3, actor=None)
    assert Client().post(f"/testing/a/{new}/identify/", {"room": "101", "phone4": "1234"}).status_code == 200


@pytest.mark.django_db
def test_medicine_page_locks_the_household_in_both_languages(world: World, settings: Any) -> None:
    token = building_token_rotate(building=world.b3, actor=None)
    client = Client()
    for n in range(4):
        assert client.post(f"/care/p/{token}/", {"room": "101", "last4": f"{n:04d}"}).status_code == 200
    locked = client.post(f"/care/p/{token}/", {"room": "101", "last4": "0009"})
    page = locked.content.decode()
    assert locked.status_code == 429 and "Retry-After" in locked
    assert "本户已暂时锁定" in page and "this household is locked" in page


# --------------------------------------------------------------------------------------------------
# The same limits on Redis (production's cache: Lua scripts, one round trip each)


@pytest.mark.django_db
def test_identify_lock_on_redis(world: World, settings: Any, redis_cache: Any) -> None:
    _add_room(world, "103", "13500002468")
    token = building_token_rotate(building=world.b3, actor=None)
    settings.FANGZHOU_IDENTIFY_MAX_FAILURES = 3
    settings.FANGZHOU_IDENTIFY_LOCK_S = 1
    url = f"/testing/a/{token}/identify/"
    guesser = Client(REMOTE_ADDR="198.51.100.67")

    def guess(phone4: str, room: str = "101") -> Any:
        return guesser.post(url, {"room": room, "phone4": phone4})

    # A right answer clears the count: two wrong, right, two wrong is not yet a lock.
    assert [guess(p).status_code for p in ("0000", "0001", "1234", "0002", "0003")] == [404, 404, 200, 404, 404]
    locked = guess("0004")
    assert locked.status_code == 429 and int(locked["Retry-After"]) == 1 and "锁定" in locked.json()["detail"]
    assert guess("1234").status_code == 429  # even the right digits, while locked
    assert guesser.post(f"/testing/a/{token}/submit/", {"room": "101", "phone4": "1234"}).status_code == 429
    assert guess("2468", room="103").status_code == 200  # the neighbour goes on
    time.sleep(1.2)  # the lock's key expires in Redis
    assert guess("1234").status_code == 200
    codes = [guess(p).status_code for p in ("0000", "0001", "0002")]
    assert codes == [404, 404, 429] and int(guess("1234")["Retry-After"]) == 2  # the next lock is longer


@pytest.mark.django_db
def test_public_rate_limit_on_redis(world: World, settings: Any, redis_cache: Any) -> None:
    token = building_token_rotate(building=world.b3, actor=None)
    settings.FANGZHOU_PUBLIC_RATE_PER_ADDRESS = 3
    codes = [Client(REMOTE_ADDR="198.51.100.68").get(f"/testing/a/{token}/").status_code for _ in range(5)]
    assert codes == [200, 200, 200, 429, 429]
    assert Client(REMOTE_ADDR="198.51.100.69").get(f"/testing/a/{token}/").status_code == 200  # another address
    settings.FANGZHOU_PUBLIC_RATE_PER_TOKEN = 4  # the building's token: 4 so far, 1 more is refused
    assert Client(REMOTE_ADDR="198.51.100.70").get(f"/testing/a/{token}/").status_code == 429


def test_redis_scripts_recover_from_a_forgotten_script_and_a_dropped_connection(redis_cache: Any) -> None:
    """A script goes to Redis on the thread's own connection (``fangzhou.lib.cache``); when Redis
    does not know the script (a restart empties its script cache) or the connection was closed
    under it, the same count is made once through redis-py: nothing lost, nothing counted twice."""
    from fangzhou.lib.ratelimit import _COUNT_LUA, _counts

    key = f"lean-{uuid.uuid4().hex}"
    assert _counts([(key, 60)]) == [1]  # the first run loads the script through redis-py
    assert _counts([(key, 60)]) == [2]  # then the lean path
    lean = redis_cache._lean.conn
    assert lean is not None and lean._sock is not None
    redis_cache._shas[_COUNT_LUA] = b"0" * 40  # a script Redis has never seen: NOSCRIPT
    assert _counts([(key, 60)]) == [3]
    assert redis_cache._shas[_COUNT_LUA] != b"0" * 40  # its real name is known again
    # The server closes the lean connection (an idle timeout, a restart, CLIENT KILL).
    lean = redis_cache._lean.conn or redis_cache._lean_connection()
    lean.send_packed_command([b"*2\r\n$6\r\nCLIENT\r\n$2\r\nID\r\n"], check_health=False)
    own_id = lean.read_response()
    redis_cache._cache.get_client(write=True).execute_command("CLIENT", "KILL", "ID", own_id)
    assert _counts([(key, 60)]) == [4]
    assert _counts([(key, 60)]) == [5]  # and the lean path again, on a new connection
    assert redis_cache._lean.conn is not None and redis_cache._lean.conn._sock is not None


@pytest.mark.django_db
def test_a_submit_refused_on_redis_costs_no_database_work(world: World, settings: Any, redis_cache: Any) -> None:
    """Over the address's budget the public submit is refused by the first script, before any SQL."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    token = building_token_rotate(building=world.b3, actor=None)
    settings.FANGZHOU_PUBLIC_RATE_PER_ADDRESS = 2
    client = Client(REMOTE_ADDR="198.51.100.71")
    results = json.dumps({world.resident("张伟").pk: "negative", world.resident("李娜").pk: "negative"})

    def submit(n: int) -> Any:
        form = {"room": "101", "phone4": "1234", "results": results, "client_id": f"refused-{n:04d}"}
        return client.post(f"/testing/a/{token}/submit/", form)

    assert [submit(n).json()["ok"] for n in range(2)] == [True, True]
    with CaptureQueriesContext(connection) as queries:
        refused = submit(2)
    assert refused.status_code == 429 and int(refused["Retry-After"]) >= 1
    assert refused.json()["retry_after"] >= 1
    assert queries.captured_queries == []


@pytest.mark.parametrize("with_request", [False, True], ids=["identify alone", "with the public limit"])
def test_a_burst_of_guesses_gets_no_more_answers_than_the_limit(
    redis_cache: Any, settings: Any, with_request: bool
) -> None:
    """The worst order for the guard: every wrong guess of a burst is in flight (looked up, not yet
    counted) when the right one starts, and the right one is checked last. It must be refused: a
    burst gets no more answers than a guesser sending one guess at a time."""
    import threading

    from fangzhou.lib.ratelimit import HouseholdLocked, identify_guarded

    settings.FANGZHOU_IDENTIFY_MAX_FAILURES = 3
    token, room = f"burst-{uuid.uuid4().hex}", "101"
    request = RequestFactory().post("/", REMOTE_ADDR="198.51.100.90") if with_request else None
    kwargs = {"request": request} if with_request else {}
    entered = threading.Semaphore(0)
    release_wrong, release_right = threading.Event(), threading.Event()
    told: list[str] = []

    def guess(right: bool) -> None:
        def attempt() -> str | None:
            entered.release()
            (release_right if right else release_wrong).wait(10)
            return "the household" if right else None

        try:
            answer = identify_guarded(token, room, attempt, **kwargs)
            told.append("right" if answer else "wrong")
        except HouseholdLocked:
            told.append("locked")

    wrong = [threading.Thread(target=guess, args=(False,)) for _ in range(8)]
    for thread in wrong:
        thread.start()
    for _ in wrong:
        assert entered.acquire(timeout=10)
    right = threading.Thread(target=guess, args=(True,))
    right.start()
    assert entered.acquire(timeout=10)
    release_wrong.set()
    for thread in wrong:
        thread.join(10)
    release_right.set()
    right.join(10)
    assert len(told) == 9
    assert told[-1] == "locked", told  # the right digits, checked after the limit: not told
    assert told.count("wrong") == 2 and told.count("locked") == 7, told


def test_a_right_answer_alone_takes_one_script_and_clears_nothing_it_need_not(
    redis_cache: Any, settings: Any, monkeypatch: Any
) -> None:
    """A household's report with the right digits and no wrong answers before it: one script,
    the public limit's and the household's checks together (one round trip to Redis)."""
    from fangzhou.lib import ratelimit
    from fangzhou.lib.ratelimit import HouseholdLocked, identify_guarded

    monkeypatch.setattr(ratelimit, "ALONE_S", 0.3)
    settings.FANGZHOU_IDENTIFY_MAX_FAILURES = 2
    settings.FANGZHOU_IDENTIFY_LOCK_S = 60
    from django.core.cache import caches

    calls: list[int] = []
    shared = caches["default"]  # the RedisCache itself, not the proxy (restored with the settings)
    script = shared.script

    def counted(source: str, keys: Any, args: Any) -> Any:
        calls.append(len(keys))
        return script(source, keys, args)

    monkeypatch.setattr(shared, "script", counted)
    token = f"alone-{uuid.uuid4().hex}"
    request = RequestFactory().post("/", REMOTE_ADDR="198.51.100.91")
    assert identify_guarded(token, "101", lambda: "home", request=request) == "home"
    assert len(calls) == 1
    # One wrong answer, then the right one: two scripts (the count is cleared), then one again.
    assert identify_guarded(token, "102", lambda: None, request=request) is None
    assert identify_guarded(token, "102", lambda: "home", request=request) == "home"
    time.sleep(ratelimit.ALONE_S + 0.1)  # past the window in which another guess at the household was in flight
    calls.clear()
    assert identify_guarded(token, "102", lambda: "home", request=request) == "home"
    assert len(calls) == 1
    # Two wrong answers lock the household; while it is locked nothing is looked up.
    assert identify_guarded(token, "103", lambda: None, request=request) is None
    with pytest.raises(HouseholdLocked):
        identify_guarded(token, "103", lambda: None, request=request)
    looked: list[int] = []
    with pytest.raises(HouseholdLocked):
        identify_guarded(token, "103", lambda: looked.append(1) or "home", request=request)
    assert looked == []


@pytest.mark.django_db
def test_a_locked_household_submit_on_redis_costs_no_database_work(
    world: World, settings: Any, redis_cache: Any
) -> None:
    """Wrong digits lock the household through the submit itself; then even the right digits are
    refused, with the time to retry, before any SQL."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    token = building_token_rotate(building=world.b3, actor=None)
    settings.FANGZHOU_IDENTIFY_MAX_FAILURES = 2
    client = Client(REMOTE_ADDR="198.51.100.72")
    results = json.dumps({world.resident("张伟").pk: "negative"})

    def submit(phone4: str, n: int) -> Any:
        form = {"room": "101", "phone4": phone4, "results": results, "client_id": f"locked-{n:04d}"}
        return client.post(f"/testing/a/{token}/submit/", form)

    assert [submit("0000", 0).status_code, submit("0001", 1).status_code] == [404, 429]
    with CaptureQueriesContext(connection) as queries:
        refused = submit("1234", 2)
    assert refused.status_code == 429 and int(refused["Retry-After"]) >= 1 and "锁定" in refused.json()["detail"]
    assert queries.captured_queries == []
    assert not AntigenSubmission.objects.filter(client_id="locked-0002").exists()


@pytest.mark.django_db
@pytest.mark.parametrize("step", ["identify", "submit"])
def test_posts_with_an_unknown_token_are_counted_too(world: World, settings: Any, step: str) -> None:
    """A 404 for a token that names no building still counts against the address's budget."""
    settings.FANGZHOU_PUBLIC_RATE_PER_ADDRESS = 2
    client = Client(REMOTE_ADDR="198.51.100.73")
    url = f"/testing/a/{'x' * 32}/{step}/"
    codes = [client.post(url, {"room": "101", "phone4": "1234"}).status_code for _ in range(3)]
    assert codes == [404, 404, 429]


@pytest.mark.django_db
def test_the_identify_step_on_redis_takes_one_script_and_a_refusal_no_sql(
    world: World, settings: Any, redis_cache: Any, monkeypatch: Any
) -> None:
    from django.core.cache import caches
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    token = building_token_rotate(building=world.b3, actor=None)
    shared = caches["default"]
    script, calls = shared.script, []
    monkeypatch.setattr(shared, "script", lambda *a: calls.append(a[0]) or script(*a))
    client = Client(REMOTE_ADDR="198.51.100.74")
    answer = client.post(f"/testing/a/{token}/identify/", {"room": "101", "phone4": "1234"})
    assert answer.status_code == 200 and len(answer.json()["members"]) == 2
    assert len(calls) == 1
    settings.FANGZHOU_PUBLIC_RATE_PER_ADDRESS = 1
    with CaptureQueriesContext(connection) as queries:
        refused = client.post(f"/testing/a/{token}/identify/", {"room": "101", "phone4": "1234"})
    assert refused.status_code == 429 and int(refused["Retry-After"]) >= 1
    assert queries.captured_queries == []
