"""Bad input gets a clear message, never a 500: the safety nets for pages and the API."""

from __future__ import annotations

import pytest
from django.http import HttpResponse
from django.test import Client, RequestFactory

from fangzhou.cases.services import CaseError
from fangzhou.middleware import RefusedMiddleware
from fangzhou.registry.tests.factories import World


@pytest.mark.django_db
def test_an_uncaught_refusal_on_a_page_is_a_400_in_both_languages(world: World) -> None:
    request = RequestFactory().get("/")
    request.user = world.secretary
    middleware = RefusedMiddleware(lambda r: HttpResponse())
    response = middleware.process_exception(request, CaseError("出舱需要两次阴性", "discharge needs two negatives"))
    assert response is not None and response.status_code == 400
    page = response.content.decode()
    assert "出舱需要两次阴性" in page and "discharge needs two negatives" in page
    assert middleware.process_exception(request, RuntimeError("bug")) is None


@pytest.mark.django_db
def test_api_refusal_is_a_400_with_both_languages(world: World) -> None:
    client = Client()
    client.force_login(world.secretary)
    from io import BytesIO

    bogus = BytesIO(b"\x89PNG not a roster")
    bogus.name = "roster.xlsx"
    response = client.post(f"/api/communities/{world.community.code}/roster", {"file": bogus})
    assert response.status_code == 400
    body = response.json()
    assert "不是有效的 Excel" in body["zh"] and "not a valid Excel" in body["en"]


@pytest.mark.django_db
def test_malformed_multipart_is_a_400_not_a_500(world: World) -> None:
    client = Client()
    client.force_login(world.secretary)
    for url in (f"/api/communities/{world.community.code}/roster", f"/c/{world.community.code}/roster/"):
        response = client.generic("POST", url, b"--x\r\n", content_type="multipart/form-data")
        assert response.status_code == 400, url
        text = str(response.json()) if url.startswith("/api/") else response.content.decode()
        assert "上传内容格式错误" in text


@pytest.mark.django_db(transaction=True)
def test_an_id_too_large_for_the_database_is_a_400(world: World) -> None:
    client = Client()
    client.force_login(world.secretary)
    response = client.post(
        f"/api/supplies/c/{world.community.code}/routes",
        {"building_ids": [10**30], "volunteer_ids": [1]},
        content_type="application/json",
    )
    # SQLite cannot hold the number ("out of range"); PostgreSQL compares it and finds no building.
    assert response.status_code == 400
    assert response.json()["detail"] in {
        "数字超出范围 / a number is out of range",
        "请至少选择一栋楼 / choose at least one building",
    }
