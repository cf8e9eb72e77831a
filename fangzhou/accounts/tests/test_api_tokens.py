"""Machine clients' API keys: made and revoked by the committee or the subdistrict, stored hashed,
every refusal audited, rate-limited per key. Endpoints: testing and reports' own tests."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from fangzhou.accounts.audit import AuditAction
from fangzhou.accounts.models import ApiToken, AuditLog, Scope
from fangzhou.accounts.services import AccountError, api_token_create, api_token_revoke
from fangzhou.registry.tests.factories import World

pytestmark = pytest.mark.django_db

REPORT = "/api/reports/subdistrict"


def _get(key: str, url: str = REPORT) -> Any:
    return Client().get(url, HTTP_AUTHORIZATION=f"Bearer {key}")


def _refusals() -> list[str]:
    return list(AuditLog.objects.filter(action=AuditAction.API_TOKEN_REFUSE).values_list("detail__reason", flat=True))


def test_the_database_holds_only_a_hash_of_the_key(world: World) -> None:
    made = api_token_create(
        name="某某检测机构", scopes=["results:write"], community=world.community, actor=world.secretary
    )
    assert made.key.startswith(f"fz_{made.token.prefix}_") and len(made.key) > 40
    secret = made.key.split("_", 2)[2]
    # No column of any row of the token table (nor the audit log) holds the key or its secret part.
    with connection.cursor() as cursor:
        for table in ("accounts_apitoken", "accounts_auditlog"):
            cursor.execute(f"SELECT * FROM {table}")  # noqa: S608 - fixed table names
            dump = json.dumps(cursor.fetchall(), default=str)
            assert secret not in dump and made.key not in dump
    token = ApiToken.objects.get()
    assert token.secret_hash == hashlib.sha256(made.key.encode()).hexdigest()
    # The hash alone does not sign in: it is not the key.
    assert _get(f"fz_{token.prefix}_{token.secret_hash}").status_code == 401


def test_create_and_revoke_are_audited_and_a_revoked_key_is_refused(world: World) -> None:
    made = api_token_create(
        name="区里日报系统", scopes=["reports:read"], subdistrict=world.community.subdistrict, actor=world.officer
    )
    created = AuditLog.objects.get(action=AuditAction.API_TOKEN_CREATE)
    assert created.actor == world.officer and created.detail["prefix"] == made.token.prefix
    assert created.detail["scopes"] == ["reports:read"]
    assert _get(made.key).status_code == 200
    ApiToken.objects.filter(pk=made.token.pk).update(last_used_at=None)
    assert _get(made.key).status_code == 200
    assert ApiToken.objects.get(pk=made.token.pk).last_used_at is not None  # last use recorded

    api_token_revoke(token=made.token, actor=world.officer)
    api_token_revoke(token=made.token, actor=world.officer)  # again: nothing more happens
    assert AuditLog.objects.filter(action=AuditAction.API_TOKEN_REVOKE).count() == 1
    answer = _get(made.key)
    assert answer.status_code == 401
    assert answer["Content-Type"].startswith("application/problem+json") and answer.json()["status"] == 401
    assert answer.json()["zh"] == "接口密钥无效、已吊销或已过期" and "revoked" in answer.json()["en"]
    assert _refusals() == ["revoked"]


def test_unknown_wrong_and_expired_keys_are_401_and_audited(world: World) -> None:
    made = api_token_create(
        name="lab",
        scopes=["reports:read"],
        community=world.community,
        actor=world.secretary,
        expires_at=timezone.now() + dt.timedelta(days=30),
    )
    prefix = made.token.prefix
    assert _get("fz_0000beef_" + "x" * 43).status_code == 401  # no such key
    assert _get(f"fz_{prefix}_" + "y" * 43).status_code == 401  # right prefix, wrong secret
    assert _get("not-a-key").status_code == 401
    ApiToken.objects.filter(pk=made.token.pk).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    assert _get(made.key).status_code == 401
    assert sorted(_refusals()) == ["expired", "malformed", "unknown", "wrong_secret"]


def test_a_key_without_the_scope_is_403_and_audited(world: World) -> None:
    made = api_token_create(name="lab", scopes=["results:write"], community=world.community, actor=world.secretary)
    answer = _get(made.key)
    assert answer.status_code == 403 and answer.json()["status"] == 403
    assert answer.json()["en"] == "this key lacks the scope reports:read"
    assert _refusals() == ["scope:reports:read"]


def test_the_rate_limit_trips_per_key_with_retry_after(world: World, settings: Any) -> None:
    settings.FANGZHOU_API_TOKEN_RATE = 3
    one = api_token_create(name="a", scopes=["reports:read"], community=world.community, actor=world.secretary)
    two = api_token_create(name="b", scopes=["reports:read"], community=world.community, actor=world.secretary)
    assert [_get(one.key).status_code for _ in range(5)] == [200, 200, 200, 429, 429]
    refused = _get(one.key)
    assert refused.status_code == 429 and int(refused["Retry-After"]) >= 1
    assert refused.json()["retry_after"] >= 1
    assert _get(two.key).status_code == 200  # the other key has its own budget
    assert _refusals() == ["rate_limited"]  # audited once per window, not once per request


def test_who_may_make_and_revoke_keys(world: World) -> None:
    subdistrict = world.community.subdistrict
    with pytest.raises(AccountError):  # another community's secretary
        api_token_create(name="x", scopes=["results:write"], community=world.community, actor=world.outsider)
    with pytest.raises(AccountError):  # a leader is not the committee
        api_token_create(name="x", scopes=["reports:read"], community=world.community, actor=world.leader)
    with pytest.raises(AccountError):  # the officer reads counts: no write keys
        api_token_create(name="x", scopes=["results:write"], subdistrict=subdistrict, actor=world.officer)
    with pytest.raises(AccountError):  # the secretary makes keys for the community, not the subdistrict
        api_token_create(name="x", scopes=["reports:read"], subdistrict=subdistrict, actor=world.secretary)
    with pytest.raises(AccountError):
        api_token_create(name="x", scopes=["admin:all"], community=world.community, actor=world.secretary)
    made = api_token_create(name="x", scopes=["samples:write"], community=world.community, actor=world.secretary)
    with pytest.raises(AccountError):
        api_token_revoke(token=made.token, actor=world.outsider)
    assert not AuditLog.objects.filter(action=AuditAction.API_TOKEN_REVOKE).exists()
    assert set(Scope.values) == {"results:write", "samples:write", "reports:read"}


def test_the_committee_makes_sees_and_revokes_its_keys_on_the_page(world: World) -> None:
    client = Client()
    client.force_login(world.secretary)
    page = client.get("/accounts/tokens/")
    assert page.status_code == 200 and 'name="scopes"' in page.content.decode()
    made = client.post("/accounts/tokens/", {"name": "某某检测机构", "scopes": ["results:write"], "expires_days": "90"})
    assert made.status_code == 200
    token = ApiToken.objects.get()
    assert token.community == world.community and token.scopes == ["results:write"] and token.expires_at
    key = re.findall(rf"fz_{token.prefix}_[A-Za-z0-9_-]{{20,}}", made.content.decode())
    assert key and hashlib.sha256(key[0].encode()).hexdigest() == token.secret_hash
    listing = client.get("/accounts/tokens/").content.decode()
    assert f"fz_{token.prefix}_…" in listing and token.secret_hash not in listing
    assert key[0] not in listing  # the key is shown once, on the page that made it
    # Another community's secretary sees none of it and cannot revoke it.
    outsider = Client()
    outsider.force_login(world.outsider)
    assert f"fz_{token.prefix}" not in outsider.get("/accounts/tokens/").content.decode()
    assert outsider.post(f"/accounts/tokens/{token.pk}/revoke/").status_code == 404
    assert ApiToken.objects.get().revoked_at is None
    assert client.post(f"/accounts/tokens/{token.pk}/revoke/").status_code == 302
    assert ApiToken.objects.get().revoked_at is not None


def test_the_officer_makes_a_read_only_subdistrict_key_and_a_leader_has_no_page(world: World) -> None:
    officer = Client()
    officer.force_login(world.officer)
    refused = officer.post("/accounts/tokens/", {"name": "x", "scopes": ["results:write"]})
    assert refused.status_code == 400 and not ApiToken.objects.exists()
    assert officer.post("/accounts/tokens/", {"name": "区日报", "scopes": ["reports:read"]}).status_code == 200
    assert ApiToken.objects.get().subdistrict == world.community.subdistrict
    leader = Client()
    leader.force_login(world.leader)
    assert leader.get("/accounts/tokens/").status_code == 404


def test_the_cli_creates_lists_and_revokes(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    from fangzhou.cli import main

    assert main(["tokens", "create", "--community", "T01", "--scope", "results:write,samples:write",
                 "--name", "lab", "--json"]) == 0  # fmt: skip
    made = json.loads(capsys.readouterr().out)
    assert made["key"].startswith(made["prefix"] + "_") and made["scopes"] == ["results:write", "samples:write"]
    assert _get(made["key"]).status_code == 403  # a real key, without reports:read
    assert main(["tokens", "list", "--json"]) == 0
    listed = capsys.readouterr().out
    assert made["prefix"] in listed and made["key"] not in listed
    assert main(["tokens", "revoke", str(made["id"])]) == 0
    capsys.readouterr()
    assert _get(made["key"]).status_code == 401
    assert main(["tokens", "create", "--subdistrict", world.community.subdistrict.name, "--scope", "reports:read",
                 "--name", "district", "--expires-days", "30"]) == 0  # fmt: skip
    assert "shown only now" in capsys.readouterr().out
    assert main(["tokens", "create", "--community", "T01", "--scope", "everything", "--name", "x"]) == 2
    assert main(["tokens", "revoke", "9999"]) == 2
    assert AuditLog.objects.filter(action=AuditAction.API_TOKEN_CREATE).count() == 2
    assert AuditLog.objects.filter(action=AuditAction.API_TOKEN_REVOKE).count() == 1
