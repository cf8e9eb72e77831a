"""The outbox soak (issue 13): 500 taps kept on two phones, sent through a flaky network to gunicorn.

    python bench/outbox_soak.py [--database-url postgres://…/fz_soak] [--actions 500] [--quick] [--seed 13]

Two phones (headless Chromium, Debian's), a volunteer and the leader of the building whose orders
and doors she shares, each hold half of an outbox of ``--actions`` taps in IndexedDB, in the
format ``outbox.js`` keeps them (mark delivered, undo, check-in, door-to-door sample, claim /
start / done / release an order), among them orders claimed by both and doors marked by both.
The real ``outbox.js`` sends them (oldest first, backing off) to gunicorn (``fangzhou serve``)
through a small asyncio HTTP proxy of this file that, for the outbox's posts, drops the
connection before forwarding, drops it after forwarding (the server acted, the phone never
heard: the hard case), or answers 503, each at random. The pages' clock is Playwright's fake
clock: the backoff waits (2 s … 60 s) are jumped over when a phone has gone quiet, so that the
soak measures the protocol, not the waiting.

Then the database is asserted on (``verify``): every tap stored exactly once (one receipt per
client id, the domain rows once: one claim event per order, one check-in per person, one sample
per resident), every contested order and door won by exactly one and the loser told (409, the
winner's name, shown on the loser's page), both times kept, nothing lost. A tap whose answer was
dropped after the server acted must have been answered later as a replay.

Without --database-url: SQLite in a temporary folder (migrated first, which takes a while).
The database is flushed: give it one of its own. The suite runs a bounded version of this
(tests/test_outbox_soak.py, 150 taps). Reports actions/s and the retries; records the ratio of
sends to taps (``bench/ratios.py``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import datetime as dt
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BLOCK = 50  # taps per block of the plan (22 the volunteer's, 28 the leader's)
LEADER_NAME = "陈建国"
VOLUNTEER_NAME = "王芳"


# --------------------------------------------------------------------------------------------
# The plan: the day's data and the two outboxes


@dataclasses.dataclass
class Tap:
    client_id: str
    who: str  # "volunteer" or "leader"
    url: str
    fields: list[tuple[str, str]]
    kind: str  # the receipt kind the server stores
    target: str  # what it acts on, e.g. "order:12", "door:7"
    tapped_at: str = ""


@dataclasses.dataclass
class Plan:
    users: dict[str, Any]  # who -> User
    sessions: dict[str, str]  # who -> session key
    taps: list[Tap]
    contested: set[str]  # targets both phones act on
    full_orders: dict[int, str]  # order pk -> who takes it through claim, start, done
    released: list[int]  # orders the volunteer claims and gives back
    undone: list[int]  # doors the volunteer marks and then undoes
    doors: dict[int, str]  # door pk -> who marks it ("both" for contested)
    profiles: list[int]
    at_door: list[int]  # residents sampled at their door
    round_id: int


def _session(user: Any) -> str:
    from django.test import Client

    client = Client()
    client.force_login(user)
    return str(client.cookies["sessionid"].value)


def seed(actions: int, rng: random.Random) -> Plan:
    """The day (in the current database) and the two phones' outboxes, ``actions`` taps in all."""
    from django.utils import timezone

    from fangzhou.accounts.models import User
    from fangzhou.care.models import CareProfile
    from fangzhou.care.services import care_registry_sync
    from fangzhou.registry.models import Household, Resident
    from fangzhou.registry.tests.factories import build_world
    from fangzhou.supplies import services as supplies
    from fangzhou.supplies.models import Delivery
    from fangzhou.supplies.tests.conftest import place
    from fangzhou.testing.services import round_create
    from fangzhou.volunteers.models import WorkGroup
    from fangzhou.volunteers.tests.helpers import approved
    from fangzhou.workorders.models import Kind
    from fangzhou.workorders.services import work_order_create

    if actions < BLOCK or actions % BLOCK:
        raise SystemExit(f"--actions must be a multiple of {BLOCK}")
    blocks = actions // BLOCK
    world = place(build_world())
    leader = world.leader
    User.objects.filter(pk=leader.pk).update(display_name=LEADER_NAME)
    leader.refresh_from_db()
    fang = approved(world.community, VOLUNTEER_NAME, "13811110101", groups=("supplies",)).user
    assert fang is not None
    WorkGroup.objects.filter(community=world.community, code="supplies").update(lead=leader)
    # Per block: 8 more households in building 3 (elderly living alone, 6 of them cannot walk
    # down), 6 more in building 5, one person each.
    b3 = Household.objects.bulk_create(
        [Household(building=world.b3, room=f"{3000 + 10 * b + i}") for b in range(blocks) for i in range(8)]
    )
    b5 = Household.objects.bulk_create(
        [Household(building=world.b5, room=f"{5000 + 10 * b + i}") for b in range(blocks) for i in range(6)]
    )
    surnames = "赵钱孙李周吴郑王冯陈褚卫蒋沈韩杨朱秦尤许何吕施张"
    given = "一二三四五六七八九十"

    def name(n: int) -> str:
        return surnames[n % len(surnames)] + given[(n // len(surnames)) % 10] + given[n // 230 % 10]

    residents = Resident.objects.bulk_create(
        [
            Resident(
                community=world.community,
                household=h,
                name=name(n),
                special="elderly_alone,limited_mobility" if n % 8 < 6 else "elderly_alone",
            )
            for n, h in enumerate(b3)
        ]
        + [Resident(community=world.community, household=h, name=name(5000 + n)) for n, h in enumerate(b5)]
    )
    care_registry_sync(community=world.community, actor=None)
    dist = supplies.distribution_create(
        community=world.community,
        name="政府包",
        kind="government",
        on=timezone.localdate(),
        package={"大米": 1},
        actor=None,
    )
    supplies.distribution_allocate(distribution=dist, actor=None)
    for building in (world.b3, world.b5):
        supplies.delivery_assign(distribution=dist, building=building, volunteer=fang, actor=None)
    door_of = {d.household_id: d.pk for d in Delivery.objects.filter(distribution=dist)}
    profile_of = dict(CareProfile.objects.values_list("resident_id", "pk"))
    rnd = round_create(community=world.community, date=timezone.localdate(), pool_size=10, actor=world.secretary)
    orders = [
        work_order_create(
            community=world.community, kind=Kind.SUPPLY_DELIVERY, title=f"代购 {n + 1}", actor=None, building=world.b3
        )[0].pk
        for n in range(7 * blocks)
    ]

    # Each phone's taps as chains (one target's taps in order); the chains are interleaved at random.
    chains: dict[str, list[list[Tap]]] = {"volunteer": [], "leader": []}
    plan = Plan(
        users={"volunteer": fang, "leader": leader},
        sessions={"volunteer": _session(fang), "leader": _session(leader)},
        taps=[],
        contested=set(),
        full_orders={},
        released=[],
        undone=[],
        doors={},
        profiles=[],
        at_door=[],
        round_id=rnd.pk,
    )

    def tap(who: str, url: str, kind: str, target: str, *fields: tuple[str, str]) -> Tap:
        return Tap(uuid.uuid4().hex, who, url, list(fields), kind, target)

    def mark(who: str, door: int) -> Tap:
        return tap(who, f"/supplies/delivery/{door}/mark/", "delivery_mark", f"door:{door}")

    def order(who: str, pk: int, action: str) -> Tap:
        url = f"/orders/{pk}/claim/" if action == "claim" else f"/orders/{pk}/{action}/"
        fields = [("note", "放在门口了")] if action == "done" else []
        return tap(who, url, f"order_{action}", f"order:{pk}", *fields)

    for b in range(blocks):
        h3 = [door_of[h.pk] for h in b3[8 * b : 8 * b + 8]]
        h5 = [door_of[h.pk] for h in b5[6 * b : 6 * b + 6]]
        people = residents[8 * b : 8 * b + 8]
        o = orders[7 * b : 7 * b + 7]
        v, ld = chains["volunteer"], chains["leader"]
        # The volunteer: building 5's six doors (the first one undone again), building 3's doors 0-5.
        v.append(
            [
                mark("volunteer", h5[0]),
                tap("volunteer", f"/supplies/delivery/{h5[0]}/mark/", "delivery_undo", f"door:{h5[0]}", ("undo", "1")),
            ]
        )
        plan.undone.append(h5[0])
        v.extend([mark("volunteer", d)] for d in h5[1:] + h3[:6])
        # The leader: building 3's doors 4-7 (4 and 5 are the volunteer's too), check-ins, samples.
        ld.extend([mark("leader", d)] for d in h3[4:])
        for d in h5:
            plan.doors[d] = "volunteer"
        for i, d in enumerate(h3):
            plan.doors[d] = "volunteer" if i < 4 else "both" if i < 6 else "leader"
        plan.contested.update(f"door:{d}" for d in h3[4:6])
        for r in people:
            ld.append(
                [
                    tap(
                        "leader",
                        f"/care/r/{profile_of[r.pk]}/checkin/",
                        "checkin",
                        f"profile:{profile_of[r.pk]}",
                        ("status", "ok"),
                    )
                ]
            )
            plan.profiles.append(profile_of[r.pk])
        for r in people[:6]:
            ld.append(
                [
                    tap(
                        "leader",
                        f"/testing/r/{rnd.pk}/doors/take/",
                        "door_sample",
                        f"resident:{r.pk}",
                        ("resident", str(r.pk)),
                        ("tube_code", ""),
                    )
                ]
            )
            plan.at_door.append(r.pk)
        # Orders: two the volunteer does, three the leader does, one she gives back, one both claim.
        for pk, who in zip(o[:5], ["volunteer"] * 2 + ["leader"] * 3, strict=True):
            chains[who].append([order(who, pk, "claim"), order(who, pk, "start"), order(who, pk, "done")])
            plan.full_orders[pk] = who
        v.append([order("volunteer", o[5], "claim"), order("volunteer", o[5], "release")])
        plan.released.append(o[5])
        v.append([order("volunteer", o[6], "claim")])
        ld.append([order("leader", o[6], "claim")])
        plan.contested.add(f"order:{o[6]}")

    start = timezone.now() - dt.timedelta(hours=2)
    for who, his in chains.items():
        queue = [list(c) for c in his]
        n = 0
        while queue:  # a random interleaving that keeps each chain's order
            chain = rng.choice(queue)
            item = chain.pop(0)
            item.tapped_at = (start + dt.timedelta(seconds=10 * n)).isoformat(timespec="milliseconds")
            n += 1
            plan.taps.append(item)
            if not chain:
                queue.remove(chain)
        assert sum(1 for t in plan.taps if t.who == who) == (22 if who == "volunteer" else 28) * blocks
    assert len(plan.taps) == actions
    return plan


# --------------------------------------------------------------------------------------------
# The flaky network: an HTTP proxy that drops and refuses the outbox's posts at random


@dataclasses.dataclass
class Faults:
    before: float = 0.08  # connection dropped before the request is forwarded
    after: float = 0.08  # forwarded, answered, and the answer dropped
    unavailable: float = 0.06  # 503 without forwarding


@dataclasses.dataclass
class Seen:
    attempts: Counter[str] = dataclasses.field(default_factory=Counter)  # client id -> sends
    fate: Counter[str] = dataclasses.field(default_factory=Counter)
    dropped_after: set[str] = dataclasses.field(default_factory=set)
    answered: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)  # last answer delivered


CLIENT_ID = re.compile(rb'name="client_id"\r\n\r\n([A-Za-z0-9_-]+)\r\n')


class FlakyProxy:
    """One request per connection (the answer says ``Connection: close``), in a thread of its own."""

    def __init__(self, upstream: int, faults: Faults, rng: random.Random) -> None:
        self.upstream, self.faults, self.rng = upstream, faults, rng
        self.seen = Seen()
        self.port = free_port()
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        server = self.loop.run_until_complete(asyncio.start_server(self._handle, "127.0.0.1", self.port))
        self.ready.set()
        self.loop.run_forever()
        server.close()

    def __enter__(self) -> FlakyProxy:
        self.thread.start()
        self.ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)

    def _fate(self, outbox: bool) -> str:
        if not outbox:
            return "pass"
        roll = self.rng.random()
        f = self.faults
        if roll < f.before:
            return "drop_before"
        if roll < f.before + f.unavailable:
            return "503"
        if roll < f.before + f.unavailable + f.after:
            return "drop_after"
        return "pass"

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            writer.close()
            return
        lines = head.split(b"\r\n")
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(b":") for line in lines[1:] if line)}
        body = await reader.readexactly(int(headers.get(b"content-length", b"0")))
        outbox = lines[0].startswith(b"POST ") and headers.get(b"x-fangzhou-outbox") == b"1"
        found = CLIENT_ID.search(body) if outbox else None
        client_id = found.group(1).decode() if found else ""
        fate = self._fate(outbox)
        if outbox:
            self.seen.attempts[client_id] += 1
            self.seen.fate[fate] += 1
        if fate == "drop_before":
            writer.transport.abort()
            return
        if fate == "503":
            writer.write(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            await writer.drain()
            writer.close()
            return
        kept = [line for line in lines[1:] if line and not line.lower().startswith((b"connection:", b"keep-alive:"))]
        request = b"\r\n".join([lines[0], *kept, b"Connection: close", b"", b""]) + body
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream)
        up_writer.write(request)
        await up_writer.drain()
        response = await up_reader.read()  # to the end: the server closes after one answer
        up_writer.close()
        if fate == "drop_after":
            self.seen.dropped_after.add(client_id)
            writer.transport.abort()
            return
        if outbox:
            with contextlib.suppress(ValueError):
                self.seen.answered[client_id] = json.loads(response.split(b"\r\n\r\n", 1)[1])
        writer.write(response)
        with contextlib.suppress(ConnectionError):
            await writer.drain()
        writer.close()


# --------------------------------------------------------------------------------------------
# The server


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def server_env(database_url: str, data_dir: Path, secret_key: str) -> dict[str, str]:
    """DEBUG off, plain http on 127.0.0.1; the sessions made here are read there (same key).

    Not FANGZHOU_ENV=production: its static storage compresses every file at collectstatic, which
    takes minutes on this machine and is not what is measured; here the files are copied."""
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "DJANGO_ALLOW"))},
        "PYTHONPATH": str(ROOT),
        "DJANGO_SETTINGS_MODULE": "fangzhou.settings",
        "DATABASE_URL": database_url,
        "FANGZHOU_DATA_DIR": str(data_dir),
        "FANGZHOU_ENV": "development",
        "DEBUG": "false",
        "SECRET_KEY": secret_key,
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "FANGZHOU_REQUEST_LOG": "false",
        "PYTHONUNBUFFERED": "1",
    }


@contextlib.contextmanager
def gunicorn(env: dict[str, str], log: Path, workers: int = 2) -> Iterator[int]:
    """gunicorn as ``fangzhou serve`` starts it (workers × 4 threads), on a free port; stopped afterwards."""
    subprocess.run(
        [sys.executable, "-m", "fangzhou", "manage", "collectstatic", "--noinput", "-v", "0"],
        env=env,
        cwd=str(ROOT),
        check=True,
        timeout=300,
    )
    port = free_port()
    binary = str(Path(sys.executable).with_name("gunicorn"))
    process = subprocess.Popen(
        [binary, "fangzhou.wsgi:application", "--bind", f"127.0.0.1:{port}", "--workers", str(workers)]
        + ["--threads", "4", "--timeout", "120"],
        env=env,
        cwd=str(ROOT),
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"gunicorn did not start: {log.read_text()[-2000:]}") from None
                time.sleep(0.2)
        yield port
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


# --------------------------------------------------------------------------------------------
# The phones

# Put the phone's taps into its outbox as outbox.js keeps them (same database, store and fields).
KEEP = """([taps, csrf]) => new Promise((done, failed) => {
  const user = document.querySelector('meta[name="fz-user"]').content;
  const open = indexedDB.open('fangzhou-outbox', 1);
  open.onsuccess = () => {
    const t = open.result.transaction('taps', 'readwrite');
    for (const tap of taps) {
      t.objectStore('taps').put({client_id: tap.client_id, user, url: tap.url, key: tap.url, csrf, label: tap.label,
        fields: [['client_id', tap.client_id], ['done_at_client', tap.tapped_at], ...tap.fields],
        tapped_at: tap.tapped_at, tries: 0, next_at: 0});
    }
    t.oncomplete = () => done(taps.length);
    t.onerror = () => failed(t.error);
  };
  open.onerror = () => failed(open.error);
})"""
WAITING = (
    "new Promise(done => { const open = indexedDB.open('fangzhou-outbox', 1); open.onsuccess = () => {"
    " const count = open.result.transaction('taps').objectStore('taps').count();"
    " count.onsuccess = () => done(count.result); }; })"
)


def chromium() -> str:
    path = os.environ.get("FANGZHOU_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(path).exists():
        raise RuntimeError("Debian's chromium is not installed (scripts/test.sh installs it)")
    return path


@dataclasses.dataclass
class Run:
    seconds: float
    news: dict[str, list[str]]  # who -> the conflict / refusal messages shown on their page
    jumps: int  # clock jumps over backoff waits


def drive(plan: Plan, base: str, *, deadline_s: float) -> Run:
    """Both phones open their orders page, get their outbox, and send it; until both are empty."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium(),
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-dev-shm-usage"],
        )
        pages = {}
        for who in ("volunteer", "leader"):
            context = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN")
            context.add_cookies([{"name": "sessionid", "value": plan.sessions[who], "url": base}])
            page = context.new_page()
            page.set_default_timeout(30000)
            page.goto(f"{base}/orders/")
            page.wait_for_selector("html[data-fz-offline=ready]")
            csrf = json.loads(page.get_attribute("body", "hx-headers") or "{}").get("X-CSRFToken", "")
            mine = [dataclasses.asdict(t) | {"label": t.target} for t in plan.taps if t.who == who]
            assert page.evaluate(KEEP, [mine, csrf]) == len(mine)
            page.clock.install()  # the backoff waits are jumped over below
            pages[who] = page
        started = time.perf_counter()
        for page in pages.values():
            page.reload()  # the outbox sends on page load
        last = dict.fromkeys(pages, -1)
        jumps = 0
        while True:
            left = {who: page.evaluate(WAITING) for who, page in pages.items()}
            if not any(left.values()):
                break
            if time.perf_counter() - started > deadline_s:
                raise AssertionError(f"the outboxes did not empty in {deadline_s:.0f} s: {left} left")
            for who, page in pages.items():
                if left[who] and left[who] == last[who]:  # quiet: waiting out a backoff
                    page.clock.fast_forward(61_000)
                    jumps += 1
            last = left
            time.sleep(0.1)
        seconds = time.perf_counter() - started
        news = {who: page.locator("#outbox-news .error").all_inner_texts() for who, page in pages.items()}
        browser.close()
    return Run(seconds, news, jumps)


# --------------------------------------------------------------------------------------------
# The proof


def verify(plan: Plan, run: Run, seen: Seen) -> dict[str, Any]:
    """Every tap stored exactly once, every conflict won by one and told to the other. Raises."""
    from fangzhou.care.models import CheckIn
    from fangzhou.supplies.models import Delivery, DeliveryStatus
    from fangzhou.testing.models import Sample
    from fangzhou.workorders.models import OutboxReceipt, Status, WorkOrder, WorkOrderEvent

    users = plan.users
    who_of = {u.pk: who for who, u in users.items()}
    receipts = {r.client_id: r for r in OutboxReceipt.objects.all()}
    planned = {t.client_id: t for t in plan.taps}
    assert set(receipts) == set(planned), (len(receipts), len(planned))  # nothing lost, nothing extra
    by_target: dict[str, list[Any]] = defaultdict(list)
    for cid, tap in planned.items():
        r = receipts[cid]
        assert who_of[r.user_id] == tap.who and r.kind == tap.kind, (tap, r.kind)
        assert r.done_at_client is not None and r.done_at_client.isoformat(timespec="milliseconds").startswith(
            tap.tapped_at[:23]
        ), (r.done_at_client, tap.tapped_at)
        assert r.received_at > r.done_at_client
        by_target[tap.target].append(r)
        if tap.target not in plan.contested:
            assert r.outcome == OutboxReceipt.Outcome.DONE, (tap, r.message)
    conflicts: dict[str, list[str]] = {"volunteer": [], "leader": []}
    for target in plan.contested:
        first = [r for r in by_target[target] if r.kind in {"order_claim", "delivery_mark"}]
        won = [r for r in first if r.outcome == OutboxReceipt.Outcome.DONE]
        lost = [r for r in first if r.outcome == OutboxReceipt.Outcome.CONFLICT]
        assert len(first) == 2 and len(won) == 1 and len(lost) == 1, (target, [(r.user_id, r.outcome) for r in first])
        winner = users[who_of[won[0].user_id]]
        assert str(winner) in lost[0].message, lost[0].message
        conflicts[who_of[lost[0].user_id]].append(lost[0].message)
        pk = int(target.split(":")[1])
        if target.startswith("order:"):
            order = WorkOrder.objects.get(pk=pk)
            assert order.assignee_id == winner.pk and order.status == Status.CLAIMED
            assert WorkOrderEvent.objects.filter(order=order, to_status=Status.CLAIMED).count() == 1
        else:
            assert Delivery.objects.get(pk=pk).delivered_by_id == winner.pk
    # Told on the loser's page, every one, and nothing else went wrong on either page.
    for who, messages in conflicts.items():
        shown = run.news[who]
        assert len(shown) == len(messages), (who, shown, messages)
        assert all(any(m in s for s in shown) for m in messages), (who, shown)
    # The domain rows, once each.
    for pk, who in plan.full_orders.items():
        order = WorkOrder.objects.get(pk=pk)
        assert order.status == Status.DONE and order.assignee_id == users[who].pk
        moves = Counter(
            WorkOrderEvent.objects.filter(order=order).exclude(from_status="").values_list("to_status", flat=True)
        )  # not counting the order's creation
        assert moves == {Status.CLAIMED: 1, Status.IN_PROGRESS: 1, Status.DONE: 1}, moves
    for pk in plan.released:
        order = WorkOrder.objects.get(pk=pk)
        assert order.status == Status.OPEN and order.assignee_id is None
        assert WorkOrderEvent.objects.filter(order=order, to_status=Status.CLAIMED).count() == 1
        assert WorkOrderEvent.objects.filter(order=order).exclude(from_status="").count() == 2
    for pk, who in plan.doors.items():
        door = Delivery.objects.get(pk=pk)
        if pk in plan.undone:
            assert door.status == DeliveryStatus.PENDING, pk
        elif who != "both":
            assert door.status == DeliveryStatus.DELIVERED and door.delivered_by_id == users[who].pk, pk
    checkins = Counter(CheckIn.objects.filter(profile_id__in=plan.profiles).values_list("profile_id", flat=True))
    assert checkins == Counter(plan.profiles), "a check-in is missing or doubled"
    samples = Counter(
        Sample.objects.filter(round_id=plan.round_id, door_to_door=True).values_list("resident_id", flat=True)
    )
    assert samples == Counter(plan.at_door), "a door-to-door sample is missing or doubled"
    # The hard case: the server acted, the answer was lost, the phone sent again and was told the
    # stored outcome (a replay), not a second action.
    for cid in seen.dropped_after:
        assert seen.answered[cid]["replay"] is True, cid
    sends = sum(seen.attempts.values())
    assert set(seen.attempts) == set(planned)
    return {
        "taps": len(planned),
        "sends": sends,
        "retries": sends - len(planned),
        "dropped_before": seen.fate["drop_before"],
        "dropped_after": seen.fate["drop_after"],
        "answered_503": seen.fate["503"],
        "replays_after_lost_answer": len(seen.dropped_after),
        "conflicts": {who: len(m) for who, m in conflicts.items()},
        "clock_jumps": run.jumps,
        "seconds": round(run.seconds, 1),
        "taps_per_s": round(len(planned) / run.seconds, 1),
    }


def soak(plan: Plan, server: int, *, rng: random.Random, faults: Faults, deadline_s: float) -> tuple[Run, Seen]:
    with FlakyProxy(server, faults, rng) as proxy:
        run = drive(plan, f"http://127.0.0.1:{proxy.port}", deadline_s=deadline_s)
        return run, proxy.seen


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL", ""), help="flushed!")
    parser.add_argument("--actions", type=int, default=500)
    parser.add_argument("--quick", action="store_true", help="150 taps")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", default="")
    args = parser.parse_args()
    actions = 150 if args.quick else args.actions
    work = Path(tempfile.mkdtemp(prefix="fz-bench-soak-"))
    database_url = args.database_url or f"sqlite:///{work / 'soak.sqlite3'}"
    os.environ.update({"DATABASE_URL": database_url, "FANGZHOU_DATA_DIR": str(work / "data")})
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fangzhou.settings")
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's loop in this thread
    sys.path.insert(0, str(ROOT))
    sys.path.insert(0, str(ROOT / "bench"))
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection
    from ratios import record

    call_command("migrate", verbosity=0)
    call_command("flush", interactive=False, verbosity=0)
    rng = random.Random(args.seed)
    plan = seed(actions, rng)
    connection.close()
    env = server_env(database_url, work / "data", settings.SECRET_KEY)
    with gunicorn(env, work / "gunicorn.log", workers=args.workers) as port:
        run, seen = soak(plan, port, rng=rng, faults=Faults(), deadline_s=600)
    numbers = verify(plan, run, seen)
    record("outbox soak: sends per tap (drops and 503s injected)", numbers["sends"], numbers["taps"], "sends")
    vendor = connection.vendor
    text = (
        f"Outbox soak ({vendor}, gunicorn {args.workers} workers × 4 threads, seed {args.seed}): "
        f"{numbers['taps']} taps on 2 phones sent in {numbers['seconds']} s ({numbers['taps_per_s']} taps/s), "
        f"{numbers['sends']} sends ({numbers['retries']} retries: {numbers['dropped_before']} dropped before the "
        f"server, {numbers['dropped_after']} dropped after it acted, {numbers['answered_503']} answered 503), "
        f"{numbers['clock_jumps']} backoff waits jumped; conflicts told: {numbers['conflicts']}. "
        "Every tap stored once."
    )
    print(text)
    print(json.dumps(numbers, ensure_ascii=False))
    if args.out:
        Path(args.out).write_text(text + "\n", encoding="utf-8")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
