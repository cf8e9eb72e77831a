"""The WSGI application's lean path for the public antigen submit answers exactly as the full chain."""

from __future__ import annotations

import io
import json
import sys
import urllib.parse
from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings
from django.core.cache import cache
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.test import override_settings
from django.utils import timezone

from fangzhou import wsgi
from fangzhou.registry.services import building_tokens_ensure
from fangzhou.registry.tests.factories import World
from fangzhou.testing.models import AntigenSubmission

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _keep_the_test_connection() -> Iterator[None]:
    """As Django's test client does: a request's end must not close the test's connection."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


def call(handler: Any, method: str, path: str, form: dict[str, str] | None = None, **headers: str) -> Any:
    body = b"" if form is None else urllib.parse.urlencode(form).encode()
    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": "testserver",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
        "CONTENT_LENGTH": str(len(body)),
        "CONTENT_TYPE": "application/x-www-form-urlencoded",
        **headers,
    }
    answer: dict[str, Any] = {}

    def start_response(status: str, response_headers: list[tuple[str, str]], exc_info: Any = None) -> None:
        answer["status"] = status
        answer["headers"] = response_headers

    chunks = handler(environ, start_response)
    answer["body"] = b"".join(chunks)
    getattr(chunks, "close", lambda: None)()
    return answer


def comparable(answer: dict[str, Any]) -> tuple[str, list[tuple[str, str]], Any]:
    """Status, headers (the request id's value and the length aside) and the body's shape."""
    headers = sorted(
        (k, "<id>" if k == "X-Request-ID" else v) for k, v in answer["headers"] if k not in {"Content-Length"}
    )
    body = answer["body"]
    try:
        decoded = json.loads(body)
    except ValueError:
        return answer["status"], headers, body
    if isinstance(decoded, dict) and "client_id" in decoded:
        decoded["client_id"] = "<client id>"
    return answer["status"], headers, decoded


@override_settings(ALLOWED_HOSTS=["testserver"])
def test_the_lean_path_answers_the_public_submit_as_the_full_chain(world: World) -> None:
    building_tokens_ensure(community=world.community)
    world.b3.refresh_from_db()
    token = world.b3.public_token
    page = call(wsgi.full, "GET", f"/testing/a/{token}/")
    assert page["status"].startswith("200")
    cookie = next((v for k, v in page["headers"] if k == "Set-Cookie" and "csrftoken=" in v), None)
    assert cookie is not None, page["headers"]
    csrf = cookie.split("=", 1)[1].split(";", 1)[0]
    zhang, li = world.resident("张伟"), world.resident("李娜")
    results = json.dumps({zhang.pk: "negative", li.pk: "negative"})
    form = {"room": "101", "phone4": "1234", "day": timezone.localdate().isoformat(), "results": results}
    cookies = {"HTTP_COOKIE": f"csrftoken={csrf}", "HTTP_X_CSRFTOKEN": csrf}
    cases: list[tuple[str, dict[str, str], dict[str, str]]] = [
        ("stored", {**form, "client_id": "wsgi-lean-{n}"}, cookies),
        ("duplicate", {**form, "client_id": "wsgi-lean-same"}, cookies),
        ("wrong digits", {**form, "phone4": "0000", "client_id": "wsgi-lean-x{n}"}, cookies),
        ("bad results", {**form, "results": "nope", "client_id": "wsgi-lean-y{n}"}, cookies),
        ("no CSRF token", {**form, "client_id": "wsgi-lean-z{n}"}, {}),
        (
            "English",
            {**form, "results": "nope", "client_id": "wsgi-lean-e{n}"},
            {**cookies, "HTTP_COOKIE": f"csrftoken={csrf}; django_language=en"},
        ),
    ]
    first = call(wsgi.full, "POST", f"/testing/a/{token}/submit/", {**form, "client_id": "wsgi-lean-same"}, **cookies)
    assert json.loads(first["body"])["duplicate"] is False
    for name, fields, headers in cases:
        for n, handler in enumerate((wsgi.full, wsgi.lean, wsgi.application)):
            cache.clear()
            environ_form = {k: v.replace("{n}", str(n)) for k, v in fields.items()}
            answer = call(handler, "POST", f"/testing/a/{token}/submit/", environ_form, **headers)
            if n == 0:
                expected = comparable(answer)
                if name == "stored":  # what the lean path must keep: every header of the full chain
                    names = {k for k, _ in expected[1]}
                    assert {"Content-Security-Policy", "X-Frame-Options", "X-Content-Type-Options"} <= names
                    assert {"Referrer-Policy", "Cross-Origin-Opener-Policy", "Vary", "Content-Language"} <= names
                    assert "X-Request-ID" in names and expected[2]["ok"] is True
            else:
                assert comparable(answer) == expected, name
        assert expected[0].split()[0] in {"200", "400", "403", "404"}, (name, expected[0])
    # A revoked (unknown) token: the same 404 page through both.
    gone = [
        comparable(call(h, "POST", "/testing/a/not-a-valid-token-at-all/submit/", form, **cookies))
        for h in (wsgi.full, wsgi.lean)
    ]
    assert gone[0] == gone[1] and gone[0][0].startswith("404")
    assert AntigenSubmission.objects.filter(client_id__startswith="wsgi-lean-").count() == 4  # 3 stored + 1 same


def test_only_a_cookieless_public_submit_takes_the_lean_path() -> None:
    submit = {"REQUEST_METHOD": "POST", "PATH_INFO": "/testing/a/abcdefghijklmnopqrst/submit/"}
    assert wsgi.takes_lean_path(submit)
    assert wsgi.takes_lean_path({**submit, "HTTP_COOKIE": "csrftoken=abc; django_language=en"})
    assert not wsgi.takes_lean_path({**submit, "HTTP_COOKIE": "csrftoken=abc; sessionid=xyz"})
    assert not wsgi.takes_lean_path({**submit, "HTTP_COOKIE": "messages=xyz"})
    assert not wsgi.takes_lean_path({**submit, "REQUEST_METHOD": "GET"})
    assert not wsgi.takes_lean_path({**submit, "PATH_INFO": "/testing/a/abc/identify/"})
    assert not wsgi.takes_lean_path({**submit, "PATH_INFO": "/testing/a/abc/submit/extra"})
    assert not wsgi.takes_lean_path({**submit, "PATH_INFO": "/x/testing/a/abc/submit/"})


def test_the_lean_chain_is_the_full_chain_minus_the_five_no_ops() -> None:
    def names(handler: Any) -> list[str]:
        chain, found = handler._middleware_chain, []
        # Each middleware instance holds the next in ``get_response`` (wrapped by Django's
        # exception converter, which keeps it in its closure).
        while chain is not None:
            middleware = chain.__closure__[0].cell_contents if chain.__closure__ else None
            if middleware is None or not hasattr(middleware, "get_response"):
                break
            found.append(f"{type(middleware).__module__}.{type(middleware).__name__}")
            chain = middleware.get_response
        return found

    full, lean = names(wsgi.full), names(wsgi.lean)
    assert full == list(settings.MIDDLEWARE)
    assert lean == [m for m in full if m not in wsgi.LEAN_SKIPPED]
    assert len(lean) == len(full) - 5
