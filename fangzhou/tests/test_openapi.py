"""The OpenAPI document tells the truth: one component per schema class, every status documented,
errors as problem details, lists paginated."""

from __future__ import annotations

import json
import typing
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client
from pydantic import BaseModel

from fangzhou.api import PROBLEM_SCHEMAS, api
from fangzhou.lib.problems import PROBLEM_JSON, Problem

APPS = ("registry", "testing", "cases", "zones", "volunteers", "workorders", "supplies", "care", "reports")
METHODS = {"get", "post", "put", "patch", "delete"}


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    """The document as a client reads it."""
    response = Client().get("/api/openapi.json")
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


def _operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                yield path, method, operation


def _nested_models(annotation: Any) -> Iterator[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation
        return
    for arg in typing.get_args(annotation):
        yield from _nested_models(arg)


def _schema_classes() -> set[type[BaseModel]]:
    """Every schema class the API can send or receive (the operations' wrapper models excluded)."""
    seen: set[type[BaseModel]] = set()
    todo: list[type[BaseModel]] = []
    for _prefix, router in api._routers:
        for path_view in router.path_operations.values():
            for operation in path_view.operations:
                wrappers = [m for m in operation.response_models.values() if isinstance(m, type)]
                for wrapper in [*wrappers, *operation.models]:
                    for field in wrapper.model_fields.values():
                        todo.extend(_nested_models(field.annotation))
    while todo:
        model = todo.pop()
        if model in seen:
            continue
        seen.add(model)
        for field in model.model_fields.values():
            todo.extend(_nested_models(field.annotation))
    return seen


def test_every_schema_class_has_its_own_component(document: dict[str, Any]) -> None:
    """Two classes with one name would silently share (overwrite) one component. (Ninja makes one
    ``Paged…`` class per paginated operation: copies with the same schema are one class here.)"""
    classes = _schema_classes() | {Problem, *PROBLEM_SCHEMAS.values()}
    by_name: dict[str, set[str]] = {}
    for cls in classes:
        by_name.setdefault(cls.__name__, set()).add(json.dumps(cls.model_json_schema(), sort_keys=True))
    shared = sorted(name for name, shapes in by_name.items() if len(shapes) > 1)
    assert shared == [], f"schema names used by classes of different shapes: {shared}"
    assert len(by_name) == len(document["components"]["schemas"])
    assert set(by_name) == set(document["components"]["schemas"])


def test_every_ref_points_at_a_component(document: dict[str, Any]) -> None:
    components = set(document["components"]["schemas"])

    def refs(node: Any) -> Iterator[str]:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "$ref" and isinstance(value, str):
                    yield value.rsplit("/", 1)[-1]
                else:
                    yield from refs(value)
        elif isinstance(node, list):
            for value in node:
                yield from refs(value)

    assert set(refs(document["paths"])) - components == set()


def test_the_app_schema_modules_hold_no_duplicate_names() -> None:
    """Also the classes not (yet) reachable: a name is unique across every app's api.py."""
    import importlib

    from ninja import Schema

    owners: dict[str, list[str]] = {}
    for app in APPS:
        module = importlib.import_module(f"fangzhou.{app}.api")
        for name, value in vars(module).items():
            if isinstance(value, type) and issubclass(value, Schema) and value.__module__ == module.__name__:
                owners.setdefault(name, []).append(app)
    assert {n: a for n, a in owners.items() if len(a) > 1} == {}


def test_every_operation_documents_its_success_and_its_errors(document: dict[str, Any]) -> None:
    """Success, 401 (signed-in operations) or 429 (public ones), 400/422 (any input), 503; every
    error as problem details."""
    missing: list[str] = []
    for path, method, operation in _operations(document):
        responses = {int(status): answer for status, answer in operation["responses"].items()}
        public = not operation.get("security")
        needed = {503, 404} | ({429} if public else {401, 403})
        if operation.get("parameters") or operation.get("requestBody"):
            needed |= {400, 422}
        if not any(200 <= status < 300 for status in responses):
            missing.append(f"{method} {path}: no success status")
        if needed - set(responses):
            missing.append(f"{method} {path}: {sorted(needed - set(responses))}")
        for status, answer in responses.items():
            if status >= 400 and set(answer.get("content", {})) != {PROBLEM_JSON}:
                missing.append(f"{method} {path} {status}: not problem details")
    assert missing == []


def test_the_public_operations_are_the_three_expected(document: dict[str, Any]) -> None:
    public = sorted(f"{m} {p}" for p, m, op in _operations(document) if not op.get("security"))
    assert public == [
        "get /api/orders/public/{token}/requests/{reference}",
        "post /api/orders/public/{token}/requests",
        "post /api/volunteers/signup/{token}",
    ]
    for path, method, operation in _operations(document):
        if not operation.get("security"):
            assert "429" in {str(s) for s in operation["responses"]}, f"{method} {path}"


def test_error_schemas_are_problem_details(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    for name in ("Problem", "ValidationProblem", "RetryProblem", "ClaimTaken", "BlockCutsOffProblem"):
        assert {"type", "title", "status", "detail", "zh", "en"} <= set(schemas[name]["properties"]), name
    assert "errors" in schemas["ValidationProblem"]["required"]


def test_every_list_is_paginated(document: dict[str, Any]) -> None:
    """No GET answers a bare array: lists take limit/offset and answer {items, count, limit, offset}."""
    bare = []
    for path, method, operation in _operations(document):
        ok = operation["responses"].get("200", {}).get("content", {}).get("application/json", {}).get("schema", {})
        if method == "get" and ok.get("type") == "array":
            bare.append(path)
        if ok.get("$ref", "").split("/")[-1].startswith("Paged"):
            names = {p["name"] for p in operation["parameters"]}
            assert {"limit", "offset"} <= names, path
    assert bare == []
    paged = [s for name, s in document["components"]["schemas"].items() if name.startswith("Paged")]
    assert len(paged) >= 15
    for schema in paged:
        assert set(schema["required"]) == {"items", "count", "limit", "offset"}


@pytest.mark.django_db
def test_a_list_pages_with_limit_and_offset(world: Any) -> None:
    client = Client()
    client.force_login(world.secretary)
    first = client.get("/api/volunteers/", {"limit": 1}).json()
    assert first["limit"] == 1 and first["offset"] == 0 and len(first["items"]) <= 1
    everything = client.get("/api/volunteers/").json()
    assert everything["limit"] == 100 and len(everything["items"]) == everything["count"] == first["count"]
    assert client.get("/api/volunteers/", {"limit": 501}).status_code == 422
