"""Every resident page accepts its own forms in Chromium, with the page's own Referrer-Policy.

A resident has no account: the building's QR pages are the landing page, zone status, the antigen
report (identify, report, correct), a request for help and its status, medicine progress, and the
language switch on each of them. Django's CSRF check compares the browser's ``Origin`` with the
request's scheme and host; a page sent with ``Referrer-Policy: no-referrer`` makes Chromium send
``Origin: null`` with its forms, and Django refuses them (403) — on plain http as behind HTTPS.
So each form is submitted here, in Chromium at 390 px, in Chinese and English, on the live server
over http and through a TLS-terminating proxy (``X-Forwarded-Proto: https``, as nginx in deploy/).
"""

from __future__ import annotations

import http.client
import shutil
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.core.cache import cache
from playwright.sync_api import expect

from fangzhou.care.services import medicine_request_create
from fangzhou.registry.services import building_tokens_ensure
from fangzhou.registry.tests.factories import World, build_world
from fangzhou.testing.models import AntigenReport, AntigenSubmission
from fangzhou.workorders.models import ResidentRequest
from tests.browser.conftest import PHONE, shot

TEXT = {
    "zh-hans": {
        "choices": ["阴性", "阳性", "无效", "未检测"],
        "need_room": "请填写房号",
        "need_choice": "请为每位成员选择结果",
        "sent": "已提交",
        "negative": "阴性",
        "invalid": "无效",
        "already": "今天已上报",
        "switch": "EN",
    },
    "en": {
        "choices": ["Negative", "Positive", "Invalid", "Not tested"],
        "need_room": "Enter your room number",
        "need_choice": "Choose a result for everyone",
        "sent": "Submitted",
        "negative": "Negative",
        "invalid": "Invalid",
        "already": "Already reported today",
        "switch": "中文",
    },
}


@pytest.fixture
def public_world(transactional_db: None) -> World:
    cache.clear()
    world = build_world()
    building_tokens_ensure(community=world.community)
    world.b3.refresh_from_db()
    medicine_request_create(
        resident=world.resident("张伟"), actor=None, medicines=[{"name": "氨氯地平"}], pharmacy="社区卫生服务中心"
    )
    return world


def _lang(page: Any) -> str:
    return str(page.get_attribute("html", "lang"))


def _switch_language_and_back(page: Any) -> None:
    """The language form on this page: a POST to /i18n/setlang/ that must come back to the page."""
    before, url = _lang(page), page.url
    with page.expect_navigation():
        page.click("form.lang button")
    assert page.url == url, "the switch must come back to the same page, not a CSRF refusal"
    assert _lang(page) != before
    with page.expect_navigation():
        page.click("form.lang button")
    assert page.url == url and _lang(page) == before


def _choose_language(page: Any, base: str, token: str, lang: str) -> None:
    page.goto(f"{base}/p/{token}/")
    if _lang(page) != lang:
        with page.expect_navigation():
            page.click("form.lang button")
    assert _lang(page) == lang
    assert page.inner_text("form.lang button") == TEXT[lang]["switch"]


def _rows(page: Any) -> list[str]:
    return [" ".join(t.split()) for t in page.locator("#done-list li").all_inner_texts()]


def _walk(page: Any, base: str, world: World, lang: str, tag: str) -> None:
    token = world.b3.public_token
    text = TEXT[lang]
    _choose_language(page, base, token, lang)
    assert "3号楼" in page.inner_text("h1") and "阳光小区" in page.inner_text("h1")
    shot(page, f"public-{tag}-landing")

    # Zone status, and the language switch on a page that carries its own headers.
    page.goto(f"{base}/zones/p/{token}/")
    status = page.inner_text("#zone-status").strip()
    assert status and status != page.get_attribute("#zone-status", "data-status")
    _switch_language_and_back(page)
    shot(page, f"public-{tag}-zone")

    # Antigen: an empty identify and an empty report are told in the page; then a report.
    page.goto(f"{base}/testing/a/{token}/")
    _switch_language_and_back(page)
    page.click("#identify button")
    expect(page.locator("#status")).to_contain_text(text["need_room"])
    page.fill("#identify input[name=room]", "101")
    page.fill("#identify input[name=phone4]", "1234")
    page.click("#identify button")
    page.wait_for_selector("#members fieldset")
    fieldsets = page.locator("#members fieldset")
    assert fieldsets.count() == 2
    for fieldset in fieldsets.all():  # one label per choice, in the reader's language
        assert [t.strip() for t in fieldset.locator("label.choice").all_inner_texts()] == text["choices"]
    page.click("#send")
    expect(page.locator("#status")).to_contain_text(text["need_choice"])
    assert page.locator("#members fieldset.missing").count() == 2
    assert AntigenSubmission.objects.count() == 0
    for fieldset in fieldsets.all():
        fieldset.locator("input[value=negative]").check()
    page.click("#send")
    expect(page.locator("#status")).to_contain_text(text["sent"])
    expect(page.locator("#done")).to_be_visible()
    assert _rows(page) == [f"张伟 {text['negative']}", f"李娜 {text['negative']}"]
    shot(page, f"public-{tag}-antigen-sent")

    # Later the same day: the page shows what was sent, and a correction replaces it.
    page.goto(f"{base}/testing/a/{token}/")
    page.fill("#identify input[name=room]", "101")
    page.fill("#identify input[name=phone4]", "1234")
    page.click("#identify button")
    expect(page.locator("#done")).to_be_visible()
    assert text["already"] in page.inner_text("#done h2")
    assert ":" in page.inner_text("#done-at")  # the time it was reported
    assert page.locator("#report").is_hidden()
    shot(page, f"public-{tag}-antigen-already")
    page.click("#correct")
    li = page.locator("#members fieldset").nth(1)
    assert li.locator("input[value=negative]").is_checked()  # what was sent, ready to change
    li.locator("input[value=invalid]").check()
    page.click("#send")
    expect(page.locator("#done-list")).to_contain_text(text["invalid"])
    assert _rows(page) == [f"张伟 {text['negative']}", f"李娜 {text['invalid']}"]
    na = world.resident("李娜")
    assert list(AntigenReport.objects.filter(resident=na).values_list("result", flat=True)) == ["invalid"]
    assert AntigenReport.objects.filter(household=na.household).count() == 2  # corrected, not doubled
    assert AntigenSubmission.objects.count() == 2
    AntigenReport.objects.all().delete()
    AntigenSubmission.objects.all().delete()

    # A request for help, then its status by reference.
    page.goto(f"{base}/orders/p/{token}/")
    _switch_language_and_back(page)
    page.select_option("select[name=kind]", "food")
    page.fill("input[name=room]", "101")
    page.fill("textarea[name=text]", "米和油 rice and oil")
    page.fill("input[name=contact_phone]", "13800001234")
    with page.expect_navigation():
        page.click(".request-form button[type=submit]")
    req = ResidentRequest.objects.get(text="米和油 rice and oil")
    assert page.inner_text("#reference") == req.reference
    _switch_language_and_back(page)
    shot(page, f"public-{tag}-request")
    page.goto(f"{base}/orders/p/{token}/")
    page.fill("input[name=ref]", req.reference.lower())
    with page.expect_navigation():
        page.click("form.search button")
    assert page.inner_text("#reference") == req.reference
    ResidentRequest.objects.all().delete()

    # Medicine progress, by room and the last 4 digits (a POST on a page of its own headers).
    page.goto(f"{base}/care/p/{token}/")
    _switch_language_and_back(page)
    page.fill("input[name=room]", "101")
    page.fill("input[name=last4]", "1234")
    with page.expect_navigation():
        page.click("form.public-status button")
    assert "社区卫生服务中心" in page.inner_text("ul.status")
    _switch_language_and_back(page)  # the answer page's own form too
    shot(page, f"public-{tag}-medicine")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]


def _watch_refusals(page: Any) -> list[str]:
    refused: list[str] = []
    page.on("response", lambda r: refused.append(f"{r.status} {r.url}") if r.status in (400, 403, 500) else None)
    return refused


@pytest.mark.parametrize("lang", ["zh-hans", "en"])
def test_every_public_form_over_http(live_server: Any, phone: Any, public_world: World, lang: str) -> None:
    refused = _watch_refusals(phone)
    _walk(phone, live_server.url, public_world, lang, f"http-{lang}")
    assert refused == []


# --- behind a TLS-terminating proxy ------------------------------------------------------------


class _Proxy(BaseHTTPRequestHandler):
    """nginx in a few lines: keeps Host, adds X-Forwarded-Proto/-For, forwards to the app."""

    upstream: tuple[str, int] = ("127.0.0.1", 0)
    hop = {"connection", "keep-alive", "transfer-encoding", "content-length", "proxy-connection"}

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _forward(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        headers = {k: v for k, v in self.headers.items() if k.lower() not in self.hop}
        headers["X-Forwarded-Proto"] = "https"
        headers["X-Forwarded-For"] = self.client_address[0]
        conn = http.client.HTTPConnection(*self.upstream, timeout=30)
        conn.request(self.command, self.path, body=body, headers=headers)
        answer = conn.getresponse()
        data = answer.read()
        self.send_response(answer.status)
        for key, value in answer.getheaders():
            if key.lower() not in self.hop:
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        conn.close()

    do_GET = do_POST = do_HEAD = _forward


@pytest.fixture
def https_base(live_server: Any, tmp_path: Path, settings: Any) -> Iterator[str]:
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is needed to make the proxy's certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost"]
        + ["-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )
    # What production sets (settings.py, PRODUCTION): the proxy's header makes the request https.
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.CSRF_COOKIE_SECURE = True
    settings.SESSION_COOKIE_SECURE = True
    upstream = urlsplit(live_server.url)
    handler = type("Proxy", (_Proxy,), {"upstream": (upstream.hostname, upstream.port)})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(cert), str(key))
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"https://localhost:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def https_phone(browser: Any) -> Iterator[Any]:
    context = browser.new_context(
        viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True, locale="zh-CN", ignore_https_errors=True
    )
    page = context.new_page()
    page.set_default_timeout(15000)
    yield page
    context.close()


def test_every_public_form_behind_an_https_proxy(https_base: str, https_phone: Any, public_world: World) -> None:
    assert socket.gethostbyname("localhost")
    refused = _watch_refusals(https_phone)
    _walk(https_phone, https_base, public_world, "zh-hans", "https")
    assert refused == []
    cookies = {c["name"]: c for c in https_phone.context.cookies()}
    assert cookies["csrftoken"]["secure"]  # the app saw https (the proxy's header), not http


def test_behind_a_proxy_without_the_proxy_header_the_forms_are_refused(
    https_base: str, https_phone: Any, public_world: World, settings: Any
) -> None:
    """Why SECURE_PROXY_SSL_HEADER is set in production: without it the app thinks it is on http,
    the browser's Origin says https, and Django refuses every form (CSRF_TRUSTED_ORIGINS is the
    other way out, for a proxy that does not send X-Forwarded-Proto)."""
    settings.SECURE_PROXY_SSL_HEADER = None
    settings.CSRF_COOKIE_SECURE = False
    https_phone.goto(f"{https_base}/zones/p/{public_world.b3.public_token}/")
    with https_phone.expect_response("**/i18n/setlang/") as answer:
        https_phone.click("form.lang button")
    assert answer.value.status == 403
