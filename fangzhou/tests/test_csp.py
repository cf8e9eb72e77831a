"""Content-Security-Policy: every response forbids inline script and eval, and no template needs them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.test import Client

import fangzhou

TEMPLATES = sorted(Path(fangzhou.__file__).parent.rglob("templates/**/*.html"))
PDF_ONLY = {
    "poster.html",
    "print_daily.html",
    "print_list.html",
    "door_notice.html",
}  # rendered by WeasyPrint, never served


def test_no_template_has_inline_script_or_event_handlers() -> None:
    assert len(TEMPLATES) > 50
    for path in TEMPLATES:
        text = path.read_text(encoding="utf-8")
        for tag in re.findall(r"<script\b[^>]*>", text):
            assert "src=" in tag or 'type="application/json"' in tag, (path, tag)
        assert not re.search(r"<[^>]*\son[a-z]+\s*=", text), path
        assert "javascript:" not in text, path
        if path.name not in PDF_ONLY:
            assert "<style" not in text, path


@pytest.mark.django_db
def test_pages_carry_a_policy_without_unsafe_script(world: object) -> None:
    for url in ("/accounts/login/", "/testing/a/unknown-token-of-some-length/", "/api/openapi.json"):
        policy = Client().get(url)["Content-Security-Policy"]
        directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
        assert directives["script-src"] == "'self'", url
        assert "unsafe-eval" not in policy and directives["object-src"] == "'none'", url
        assert directives["frame-ancestors"] == "'none'" and directives["style-src-elem"] == "'self'", url


def test_htmx_runs_without_eval() -> None:
    base = (Path(fangzhou.__file__).parent / "templates" / "base.html").read_text(encoding="utf-8")
    assert '"allowEval": false' in base and '"includeIndicatorStyles": false' in base


def test_the_policy_built_once_is_django_csps_own_and_a_view_may_still_change_it(settings: object) -> None:
    from csp.utils import build_policy
    from django.http import HttpRequest, HttpResponse

    from fangzhou.middleware import CSPMiddleware

    middleware = CSPMiddleware(lambda request: HttpResponse())
    request = HttpRequest()
    request.path_info = "/testing/a/some-token/submit/"
    plain = middleware.process_response(request, HttpResponse())
    assert plain["Content-Security-Policy"] == build_policy()
    updated = HttpResponse()
    updated._csp_update = {"img-src": ["https://tiles.example"]}  # type: ignore[attr-defined]
    assert "https://tiles.example" in middleware.process_response(HttpRequest(), updated)["Content-Security-Policy"]
    settings.CONTENT_SECURITY_POLICY = {"DIRECTIVES": {"default-src": ["'none'"]}}  # type: ignore[attr-defined]
    assert middleware.process_response(HttpRequest(), HttpResponse())["Content-Security-Policy"] == "default-src 'none'"


def test_the_favicon_and_the_home_screen_icon_are_served(client: Client) -> None:
    """Every page names its icon; /favicon.ico (asked for by pages that name none) leads to it."""
    response = client.get("/favicon.ico")
    assert response.status_code == 301 and response["Location"].endswith(".png")
    page = client.get("/accounts/login/").content.decode()
    assert 'rel="icon"' in page and 'rel="apple-touch-icon"' in page
