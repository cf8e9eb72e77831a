"""Sessions kept in the shared Redis cache as well as the database (production's ``CACHE_URL``):
a signed-in page reads no session from the database, and every way of signing someone out still
signs them out at once, whichever process answers next."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from fangzhou.accounts.services import signin_link_create
from fangzhou.registry.tests.factories import World

pytestmark = pytest.mark.django_db

CACHED = "django.contrib.sessions.backends.cached_db"


@pytest.fixture
def redis_sessions(settings: Any, redis_cache: Any) -> None:
    settings.SESSION_ENGINE = CACHED


def _session_reads(client: Client, path: str) -> tuple[int, int]:
    with CaptureQueriesContext(connection) as queries:
        status = client.get(path).status_code
    return status, sum("django_session" in q["sql"] for q in queries)


def _same_cookie(client: Client) -> Client:
    """Another browser holding the same cookie (a second tab, or a stolen one)."""
    other = Client()
    other.cookies = client.cookies
    return other


def test_a_signed_in_page_reads_its_session_from_the_cache(world: World, redis_sessions: None) -> None:
    client = Client()
    client.force_login(world.secretary)
    assert _session_reads(client, "/residents/") == (200, 0)


def test_signing_out_ends_the_session_for_every_copy_of_the_cookie(world: World, redis_sessions: None) -> None:
    client = Client()
    client.force_login(world.leader)
    copy = _same_cookie(client)
    assert copy.get("/residents/").status_code == 200
    client.post("/accounts/logout/")
    assert copy.get("/residents/").status_code == 302  # to the sign-in page


def test_disabling_and_a_new_link_still_sign_out_at_once(world: World, redis_sessions: None) -> None:
    leader = Client()
    leader.force_login(world.leader)
    volunteer = Client()
    volunteer.force_login(world.volunteer)
    assert leader.get("/residents/").status_code == 200
    secretary = Client()
    secretary.force_login(world.secretary)
    secretary.post(f"/accounts/people/{world.leader.pk}/disable/")
    assert leader.get("/residents/").status_code == 302
    signin_link_create(user=world.volunteer, actor=world.secretary)  # ends the account's sessions
    assert volunteer.get("/accounts/password/").status_code == 302


@pytest.mark.parametrize(("cache_url", "engine"), [("", "db"), ("redis://127.0.0.1:6379/7", "cached_db")])
def test_the_sessions_are_cached_only_in_a_cache_every_process_shares(cache_url: str, engine: str) -> None:
    """The embedded default's cache is each process's own memory: there a signing-out in one
    worker would not reach another's copy, so the sessions stay in the database alone."""
    env = {**os.environ, "CACHE_URL": cache_url, "DJANGO_SETTINGS_MODULE": "fangzhou.settings"}
    code = "import django; django.setup(); from django.conf import settings; print(settings.SESSION_ENGINE)"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == f"django.contrib.sessions.backends.{engine}"
