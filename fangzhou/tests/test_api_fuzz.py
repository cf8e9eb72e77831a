"""Never a 500, never a lie: every API operation, fuzzed from its own OpenAPI schema, as a signed-in
secretary.

Schemathesis generates requests (valid and invalid) for each operation and checks that the server
never answers with a server error, and that each answer conforms to the document: a documented
status, a documented content type (``application/problem+json`` for errors) and a body that matches
the documented schema. It runs in-process against the WSGI application on the test
database, with a few examples per operation so that the suite stays fast; run it with more
examples (FANGZHOU_FUZZ_EXAMPLES) when changing the API.
"""

from __future__ import annotations

import os
from typing import Any

import pytest
import schemathesis
from django.core.wsgi import get_wsgi_application
from django.test import Client
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from fangzhou.accounts.models import Scope
from fangzhou.accounts.services import api_token_create
from fangzhou.registry.tests.factories import build_world

pytestmark = [pytest.mark.fuzz, pytest.mark.django_db]

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]

schema = schemathesis.openapi.from_wsgi("/api/openapi.json", get_wsgi_application())
EXAMPLES = int(os.environ.get("FANGZHOU_FUZZ_EXAMPLES", "6"))
CSRF = "fuzzcsrf" * 4  # a valid 32-character token, sent as cookie and header


@pytest.fixture
def signed_in() -> dict[str, Any]:
    world = build_world()
    client = Client()
    client.force_login(world.secretary)
    # The machine clients' operations take a key, not the session: the secretary's community's key
    # with every scope (the session operations ignore it; the session comes first where both are).
    key = api_token_create(name="fuzz", scopes=Scope.values, community=world.community, actor=world.secretary).key
    return {
        "cookies": {"sessionid": client.cookies["sessionid"].value, "csrftoken": CSRF},
        "headers": {"X-CSRFToken": CSRF, "Authorization": f"Bearer {key}"},
    }


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_no_operation_answers_with_a_server_error_or_off_its_schema(case: Any, signed_in: dict[str, Any]) -> None:
    response = case.call(cookies=signed_in["cookies"], headers=signed_in["headers"])
    case.validate_response(response, checks=CHECKS)
