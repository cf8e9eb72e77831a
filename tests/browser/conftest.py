"""Headless Chromium (Debian's package) driven by Playwright, against the live Django server."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

# Playwright's sync API runs an event loop in the test thread; the ORM calls made by fixtures in
# that thread are plain synchronous calls, so Django's async-safety guard is relaxed for these tests.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
PHONE = {"width": 390, "height": 844}
DESK = {"width": 1280, "height": 900}


def _chromium() -> str:
    path = os.environ.get("FANGZHOU_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(path).exists():
        pytest.fail("Debian's chromium is not installed: run scripts/test.sh, which installs it")
    return path


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/browser" in str(item.fspath):
            item.add_marker(pytest.mark.browser)


# Package-scoped, not session: it is closed when the last browser test ends, so a later test that
# starts Playwright itself (tests/test_outbox_soak.py) does not meet this one's running event loop.
@pytest.fixture(scope="package")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(
            executable_path=_chromium(),
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-dev-shm-usage"],
        )
        yield instance
        instance.close()


class _InFlight:
    """Counts the live server's requests between Django's request_started and request_finished."""

    def __init__(self) -> None:
        self.count = 0
        self.lock = threading.Lock()

    def started(self, **_: Any) -> None:
        with self.lock:
            self.count += 1

    def finished(self, **_: Any) -> None:
        with self.lock:
            self.count -= 1

    def wait_idle(self, timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if self.count <= 0:
                    return
            time.sleep(0.02)
        with self.lock:  # a request that never finished must not slow every later test
            self.count = 0


IN_FLIGHT = _InFlight()


@pytest.fixture(autouse=True)
def _browser_quiet_before_flush(request: pytest.FixtureRequest) -> Iterator[None]:
    """Close every page and let the live server finish before the database is flushed.

    The live server shares the test's in-memory SQLite database. A page left open at the end of a
    test (a service worker precaching, an htmx poll, the last navigation's follow-ups) can still be
    reading or writing when pytest-django flushes the tables, which fails the test with "database
    table is locked". The database helper is asked for here, so it is set up before and torn down
    after this fixture: pages close and the server goes idle first, the flush comes last."""
    from django.core.signals import request_finished, request_started

    if "live_server" in request.fixturenames:
        request.getfixturevalue("_django_db_helper")
    request_started.connect(IN_FLIGHT.started, dispatch_uid="fz-in-flight-start")
    request_finished.connect(IN_FLIGHT.finished, dispatch_uid="fz-in-flight-end")
    yield
    if "browser" in request.fixturenames:
        browser = request.getfixturevalue("browser")
        for context in list(browser.contexts):
            context.close()
    IN_FLIGHT.wait_idle()


@pytest.fixture
def phone(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True, locale="zh-CN")
    page = context.new_page()
    page.set_default_timeout(15000)
    yield page
    context.close()


@pytest.fixture
def desk(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport=DESK, locale="zh-CN")
    page = context.new_page()
    page.set_default_timeout(15000)
    yield page
    context.close()


def shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def sign_in(page: Any, base: str, username: str, password: str) -> None:
    page.goto(f"{base}/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")


def settle(page: Any, quiet_ms: int = 600) -> None:
    """Wait until the page has had no htmx request in flight for ``quiet_ms``.

    The live test server shares the test's one in-memory SQLite connection, so a test that reads
    the database while a follow-up request (``hx-trigger="sampled from:body"``, a delayed search)
    is still writing meets "database table is locked". Read the database only once the page is
    quiet."""
    page.wait_for_function(
        """quiet => new Promise(done => {
            let since = Date.now();
            const tick = () => {
                if (document.querySelector('.htmx-request')) since = Date.now();
                if (Date.now() - since >= quiet) return done(true);
                setTimeout(tick, 50);
            };
            tick();
        })""",
        arg=quiet_ms,
    )


class Signal:
    """One phone's signal: a TCP relay in front of the live server, the phone's only way to it.

    ``context.set_offline`` tells the page it is offline, but Chromium's emulation reaches a service
    worker only once Playwright has attached to it; a worker started by a Background Sync event can
    run its first fetch before that (the likeliest way a tap "made without signal" reached the
    server in CI, stop 21). A stairwell cuts the radio, not one tab: ``lost()`` closes every open connection and
    refuses new ones for the page and its worker alike, ``back()`` lets them through again."""

    def __init__(self, target: str) -> None:
        parts = urlsplit(target)
        self._target = (parts.hostname or "localhost", parts.port or 80)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self._up = True
        self._open: set[Any] = set()
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def lost(self) -> None:
        with self._lock:
            self._up = False
            cut, self._open = self._open, set()
        for sock in cut:
            self._shut(sock)

    def back(self) -> None:
        with self._lock:
            self._up = True

    def close(self) -> None:
        self.lost()
        self._listener.close()

    @staticmethod
    def _shut(sock: Any) -> None:
        for step in (lambda: sock.shutdown(socket.SHUT_RDWR), sock.close):
            with contextlib.suppress(OSError):
                step()

    def _accept(self) -> None:
        while True:
            try:
                phone, _ = self._listener.accept()
            except OSError:
                return  # closed
            if not self._up:  # no signal: cut before anything goes on towards the server
                self._shut(phone)
                continue
            try:
                server = socket.create_connection(self._target, timeout=5)
                server.settimeout(None)
            except OSError:
                self._shut(phone)
                continue
            with self._lock:
                up = self._up
                if up:
                    self._open.update((phone, server))
            if not up:  # the signal went while connecting: not a byte was relayed
                self._shut(phone)
                self._shut(server)
                continue
            for source, sink in ((phone, server), (server, phone)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source: Any, sink: Any) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            with self._lock:
                self._open.discard(source)
                self._open.discard(sink)
            self._shut(source)
            self._shut(sink)


@pytest.fixture
def signals(live_server: Any) -> Iterator[Any]:
    """``signals()`` gives a new phone its own signal (its own address in front of the server)."""
    made: list[Signal] = []

    def new() -> Signal:
        made.append(Signal(live_server.url))
        return made[-1]

    yield new
    for signal in made:
        signal.close()
