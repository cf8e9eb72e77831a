"""Every error the API answers is one body: RFC 9457 problem details in Chinese and English."""

from __future__ import annotations

import json
from io import BytesIO
from typing import Any

import pytest
from django.db import OperationalError
from django.http import HttpResponse, JsonResponse
from django.test import Client, RequestFactory, override_settings

from fangzhou.lib.problems import PROBLEM_JSON
from fangzhou.middleware import ApiProblemMiddleware
from fangzhou.registry.tests.factories import World


def assert_problem(response: HttpResponse, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"].startswith(PROBLEM_JSON)
    body: dict[str, Any] = json.loads(response.content)
    assert body["status"] == status
    assert body["type"] and body["title"] and body["zh"] and body["en"]
    assert body["detail"] == f"{body['zh']} / {body['en']}"
    return body


@pytest.fixture
def secretary(world: World) -> Client:
    client = Client()
    client.force_login(world.secretary)
    return client


@pytest.mark.django_db
def test_a_refusal_is_a_400_problem_in_both_languages(world: World, secretary: Client) -> None:
    bogus = BytesIO(b"\x89PNG not a roster")
    bogus.name = "roster.xlsx"
    body = assert_problem(secretary.post(f"/api/communities/{world.community.code}/roster", {"file": bogus}), 400)
    assert body["type"] == "urn:fangzhou:problem:refused"
    assert "不是有效的 Excel" in body["zh"] and "not a valid Excel" in body["en"]


@pytest.mark.django_db
def test_not_signed_in_is_a_401_problem() -> None:
    body = assert_problem(Client().get("/api/communities"), 401)
    assert (body["type"], body["title"], body["zh"]) == ("about:blank", "Unauthorized", "请先登录")


@pytest.mark.django_db
def test_not_allowed_is_a_403_problem_keeping_the_endpoints_message(world: World) -> None:
    client = Client()
    client.force_login(world.volunteer)
    body = assert_problem(client.get("/api/orders/board/T01"), 403)
    assert body["zh"] == "只有居委会能看工单总览" and body["en"] == "only the committee sees the board"


@pytest.mark.django_db
def test_a_missing_csrf_token_is_a_403_problem(world: World) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(world.secretary)
    body = assert_problem(client.post("/api/care/c/T01/sync"), 403)
    assert "CSRF" in body["en"]


@pytest.mark.django_db
def test_out_of_scope_and_unknown_paths_are_404_problems(world: World, secretary: Client) -> None:
    assert_problem(secretary.get("/api/residents/999999"), 404)
    assert_problem(secretary.get("/api/communities/T02/overview"), 404)  # another community
    assert_problem(secretary.get("/api/no/such/thing"), 404)  # Django's resolver, not ninja


@pytest.mark.django_db
def test_a_method_not_served_is_a_405_problem_with_allow(secretary: Client) -> None:
    response = secretary.delete("/api/communities")
    assert_problem(response, 405)
    assert "GET" in response["Allow"]


@pytest.mark.django_db
def test_validation_is_a_422_problem_listing_the_errors(world: World, secretary: Client) -> None:
    response = secretary.post("/api/orders/", json.dumps({"kind": "supply"}), content_type="application/json")
    body = assert_problem(response, 422)
    assert body["type"] == "urn:fangzhou:problem:invalid-input"
    assert any(error["loc"][-1] == "title" for error in body["errors"])


@pytest.mark.django_db
def test_a_body_over_the_limit_is_a_413_problem(world: World, secretary: Client) -> None:
    with override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=100):
        response = secretary.post(
            "/api/orders/", json.dumps({"kind": "supply", "title": "x" * 500}), content_type="application/json"
        )
    assert_problem(response, 413)


@pytest.mark.django_db
def test_a_database_that_cannot_be_reached_is_a_503_problem_with_retry_after(
    world: World, secretary: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    def down(*args: object, **kwargs: object) -> None:
        raise OperationalError("connection refused")

    monkeypatch.setattr("fangzhou.registry.api.selectors.communities_visible", down)
    response = secretary.get("/api/communities")
    body = assert_problem(response, 503)
    assert response["Retry-After"] == str(body["retry_after"])


def test_a_limiters_json_429_becomes_a_problem_keeping_retry_after() -> None:
    """The public limiter answers before the API's handlers run: the middleware rewrites it."""
    request = RequestFactory().post("/api/orders/public/abc/requests")
    refusal = JsonResponse(
        {"ok": False, "detail": "提交过于频繁，请稍后再试。/ Too many requests.", "retry_after": 42}, status=429
    )
    refusal["Retry-After"] = "42"
    response = ApiProblemMiddleware(lambda r: refusal)(request)
    body = assert_problem(response, 429)
    assert body["retry_after"] == 42 and response["Retry-After"] == "42"
    assert body["zh"].startswith("提交过于频繁")


def test_pages_keep_their_own_error_responses() -> None:
    page = HttpResponse("<h1>找不到</h1>", status=404)
    response = ApiProblemMiddleware(lambda r: page)(RequestFactory().get("/c/T01/"))
    assert response["Content-Type"].startswith("text/html") and response.content.decode() == "<h1>找不到</h1>"
