from __future__ import annotations

import pytest
from django.contrib.auth import authenticate
from django.test import Client, override_settings

from fangzhou.accounts.models import AuditLog, Role, User
from fangzhou.accounts.services import user_upsert
from fangzhou.registry.services import community_create

pytestmark = pytest.mark.django_db


@override_settings(
    PASSWORD_HASHERS=[
        "django.contrib.auth.hashers.Argon2PasswordHasher",
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    ]
)
def test_passwords_are_hashed_with_argon2() -> None:
    user = user_upsert(username="sec", password="a-long-pass-phrase", role=Role.SECRETARY)
    assert user.password.startswith("argon2")
    assert authenticate(username="sec", password="a-long-pass-phrase") == user


def test_user_upsert_is_idempotent_and_audited() -> None:
    community = community_create(code="A1", name="甲")
    first = user_upsert(username="sw", password="pass-phrase-one", role=Role.SOCIAL_WORKER, community=community)
    second = user_upsert(username="sw", password="pass-phrase-two", role=Role.SOCIAL_WORKER, community=community)
    assert first.pk == second.pk and User.objects.filter(username="sw").count() == 1
    assert authenticate(username="sw", password="pass-phrase-two") is not None
    assert list(AuditLog.objects.filter(target_type="user").values_list("action", flat=True).order_by("id")) == [
        "user.create",
        "user.update",
    ]


def test_no_accounts_exist_outside_the_demo() -> None:
    assert not User.objects.exists()


def test_wrong_password_gets_a_clear_message_in_both_languages() -> None:
    user_upsert(username="sec", password="a-long-pass-phrase", role=Role.SECRETARY)
    response = Client().post("/accounts/login/", {"username": "sec", "password": "nope"})
    page = response.content.decode()
    assert response.status_code == 200
    assert "用户名或密码错误" in page and "Wrong user name or password" in page


def test_openapi_schema_lists_the_registry_endpoints() -> None:
    schema = Client().get("/api/openapi.json").json()
    assert "/api/residents/{resident_id}/unmask" in schema["paths"]
    assert "/api/communities/{code}/roster" in schema["paths"]
