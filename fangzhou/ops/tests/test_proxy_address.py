"""The client's address behind nginx: from X-Forwarded-For, only when nginx (a trusted proxy) sent it."""

from __future__ import annotations

from typing import Any

import pytest
from django.http import HttpRequest, HttpResponse
from django.test import RequestFactory

from fangzhou.ops.middleware import ProxyAddressMiddleware


@pytest.fixture
def seen(settings: Any) -> Any:
    settings.FANGZHOU_TRUSTED_PROXIES = ["127.0.0.1", "::1", "10.0.0.0/24"]

    def address(peer: str, forwarded: str | None = None) -> str:
        got: list[str] = []

        def view(request: HttpRequest) -> HttpResponse:
            got.append(request.META["REMOTE_ADDR"])
            return HttpResponse()

        extra = {"HTTP_X_FORWARDED_FOR": forwarded} if forwarded is not None else {}
        ProxyAddressMiddleware(view)(RequestFactory().get("/", REMOTE_ADDR=peer, **extra))
        return got[0]

    return address


def test_nginx_on_the_same_machine(seen: Any) -> None:
    assert seen("127.0.0.1", "203.0.113.7") == "203.0.113.7"
    assert seen("::1", "2001:db8::5") == "2001:db8::5"
    assert seen("127.0.0.1") == "127.0.0.1"  # no header: the peer itself


def test_a_forged_header_from_the_client_is_not_believed(seen: Any) -> None:
    # the client wrote "1.2.3.4" itself; nginx appended the address it really came from
    assert seen("127.0.0.1", "1.2.3.4, 203.0.113.7") == "203.0.113.7"
    # straight to gunicorn, not through nginx: the header is ignored whole
    assert seen("198.51.100.9", "1.2.3.4") == "198.51.100.9"
    assert seen("127.0.0.1", "not-an-address") == "127.0.0.1"


def test_a_chain_of_trusted_proxies(seen: Any) -> None:
    # load balancer 10.0.0.2 in front of nginx: the first untrusted address from the right
    assert seen("127.0.0.1", "1.2.3.4, 203.0.113.7, 10.0.0.2") == "203.0.113.7"
