"""Content-Security-Policy: every response forbids inline script and eval, and no template needs them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.test import Client

import fangzhou

TEMPLATES = sorted(Path(fangzhou.__file__).parent.rglob("templates/**/*.html"))
PDF_ONLY = {"poster.html", "print_daily.html", "print_list.html"}  # rendered by WeasyPrint, never served


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
