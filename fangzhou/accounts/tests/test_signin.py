"""Sign-in that resists guessing, passwords every user can change, and the committee's one-time links."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest
from axes.models import AccessAttempt, AccessFailureLog
from django.test import Client
from django.utils import timezone

from fangzhou.accounts.models import AuditLog, Role, SignInLink, User
from fangzhou.accounts.services import AccountError, signin_link_create, user_upsert
from fangzhou.cli import main
from fangzhou.registry.tests.factories import PASSWORD, World

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "lantern-river-courtyard-7"


def _sign_in(client: Client, username: str, password: str) -> int:
    return client.post("/accounts/login/", {"username": username, "password": password}).status_code


def _signed_in_as(client: Client) -> str | None:
    response = client.get("/accounts/password/")
    if response.status_code != 200:
        return None
    user = response.wsgi_request.user
    return user.get_username() if user.is_authenticated else None


class TestThrottling:
    def test_a_hundred_wrong_passwords_then_the_right_one_does_not_sign_in(self, world: World) -> None:
        client = Client()
        for _ in range(100):
            assert _sign_in(client, "sec", "wrong-guess") in {200, 429}
        response = client.post("/accounts/login/", {"username": "sec", "password": PASSWORD})
        assert response.status_code == 429
        assert _signed_in_as(client) is None
        page = response.content.decode()
        assert "登录失败次数过多" in page and "Too many failed sign-ins" in page
        assert response["Retry-After"] == "900"
        # Every failure is recorded (the last, right password during the lock too), the lock audited once.
        assert AccessFailureLog.objects.filter(username="sec").count() == 101
        assert AccessAttempt.objects.get(username="sec").failures_since_start >= 100
        assert AuditLog.objects.filter(action="account.lockout", target_id=str(world.secretary.pk)).count() == 1

    def test_a_few_mistakes_then_the_right_password_sign_in(self, world: World) -> None:
        client = Client()
        for _ in range(4):
            assert _sign_in(client, "sec", "typo") == 200
        assert _sign_in(client, "sec", PASSWORD) == 302
        assert _signed_in_as(client) == "sec"
        assert not AccessAttempt.objects.filter(username="sec").exists()  # reset on success

    def test_the_lock_is_per_account_not_per_address(self, world: World) -> None:
        guesser = Client()
        for _ in range(10):
            _sign_in(guesser, "sec", "wrong-guess")
        # The building leader on the same carrier NAT (same address) still signs in.
        colleague = Client()
        assert _sign_in(colleague, "leader3", PASSWORD) == 302

    def test_the_lock_ends_after_the_cool_off(self, world: World) -> None:
        client = Client()
        for _ in range(5):
            _sign_in(client, "sec", "wrong-guess")
        assert _sign_in(client, "sec", PASSWORD) == 429
        AccessAttempt.objects.filter(username="sec").update(attempt_time=timezone.now() - dt.timedelta(minutes=16))
        assert _sign_in(Client(), "sec", PASSWORD) == 302

    def test_the_lockout_page_speaks_english_too(self, world: World) -> None:
        client = Client()
        client.cookies["django_language"] = "en"
        for _ in range(6):
            response = client.post("/accounts/login/", {"username": "sec", "password": "x"})
        assert response.status_code == 429
        assert "Sign-in locked" in response.content.decode()


class TestPasswordChange:
    def test_every_user_changes_their_own_password(self, world: World) -> None:
        client = Client()
        client.force_login(world.volunteer)
        page = client.get("/accounts/password/").content.decode()
        assert "修改密码" in page
        response = client.post(
            "/accounts/password/",
            {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
        )
        assert response.status_code == 302
        world.volunteer.refresh_from_db()
        assert world.volunteer.check_password(NEW_PASSWORD)
        assert _signed_in_as(client) == "vol"  # still signed in here
        assert AuditLog.objects.filter(action="account.password_change", target_id=str(world.volunteer.pk)).exists()

    def test_the_header_links_to_it(self, world: World) -> None:
        client = Client()
        client.force_login(world.leader)
        assert 'href="/accounts/password/"' in client.get("/accounts/password/").content.decode()

    def test_a_wrong_old_password_changes_nothing(self, world: World) -> None:
        client = Client()
        client.force_login(world.secretary)
        response = client.post(
            "/accounts/password/",
            {"old_password": "nope", "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
        )
        assert response.status_code == 400
        world.secretary.refresh_from_db()
        assert world.secretary.check_password(PASSWORD)

    @pytest.mark.parametrize(
        ("password", "zh", "en"),
        [
            ("short-1", "密码太短", "This password is too short"),
            ("password123", "这个密码太常见", "This password is too common"),
            ("4829173650", "密码不能全是数字", "This password is entirely numeric"),
        ],
    )
    def test_the_policy_is_told_in_both_languages(self, world: World, password: str, zh: str, en: str) -> None:
        client = Client()
        client.force_login(world.secretary)
        data = {"old_password": PASSWORD, "new_password1": password, "new_password2": password}
        response = client.post("/accounts/password/", data)
        assert response.status_code == 400
        assert zh in response.content.decode() and en in response.content.decode()
        client.cookies["django_language"] = "en"
        page = client.post("/accounts/password/", data).content.decode()
        assert zh in page and en in page
        world.secretary.refresh_from_db()
        assert world.secretary.check_password(PASSWORD)


def _make_link(client: Client, user: User) -> str:
    response = client.post(f"/accounts/people/{user.pk}/link/")
    assert response.status_code == 200, response.status_code
    page = response.content.decode()
    assert "<svg" in page  # the QR code
    match = re.search(r"http://testserver(/accounts/link/[^/]+/)", page)
    assert match
    return match.group(1)


class TestResetLink:
    def test_the_secretary_lists_and_resets_her_colleagues(self, world: World) -> None:
        secretary = Client()
        secretary.force_login(world.secretary)
        page = secretary.get("/accounts/people/").content.decode()
        for username in ("leader3", "grid1", "vol"):
            assert username in page
        assert "outsider" not in page and "officer" not in page
        assert 'href="/accounts/people/"' in page  # the header links there
        path = _make_link(secretary, world.leader)
        row = AuditLog.objects.get(action="account.reset_link")
        assert (row.actor_id, row.target_id, row.community_id) == (
            world.secretary.pk,
            str(world.leader.pk),
            world.community.pk,
        )
        assert path.split("/")[3] not in json.dumps(row.detail)  # the token is never logged
        # Opening the link (a chat app's preview too) spends nothing.
        leader = Client()
        assert leader.get(path).status_code == 200
        assert leader.get(path).status_code == 200
        response = leader.post(path, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
        assert response.status_code == 302
        assert _signed_in_as(leader) == "leader3"
        assert AuditLog.objects.filter(action="account.reset_link_used", target_id=str(world.leader.pk)).exists()
        # Once only.
        again = Client()
        assert again.get(path).status_code == 410
        assert again.post(path, {"new_password1": "other-pass-9x", "new_password2": "other-pass-9x"}).status_code == 410
        assert _sign_in(Client(), "leader3", NEW_PASSWORD) == 302

    def test_making_a_link_signs_the_account_out_everywhere(self, world: World) -> None:
        stolen_phone = Client()
        stolen_phone.force_login(world.volunteer)
        assert _signed_in_as(stolen_phone) == "vol"
        secretary = Client()
        secretary.force_login(world.secretary)
        _make_link(secretary, world.volunteer)
        assert _signed_in_as(stolen_phone) is None
        assert _sign_in(Client(), "vol", PASSWORD) == 200  # the old password is gone too

    def test_the_link_lets_a_locked_out_colleague_back_in(self, world: World) -> None:
        for _ in range(8):
            _sign_in(Client(), "leader3", "wrong-guess")
        secretary = Client()
        secretary.force_login(world.secretary)
        path = _make_link(secretary, world.leader)
        leader = Client()
        assert leader.post(path, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}).status_code == 302
        assert _sign_in(Client(), "leader3", NEW_PASSWORD) == 302

    def test_the_link_expires(self, world: World) -> None:
        made = signin_link_create(user=world.volunteer, actor=world.secretary)
        path = f"/accounts/link/{made.token}/"
        assert made.link.expires_at - timezone.now() <= dt.timedelta(hours=24)
        SignInLink.objects.filter(pk=made.link.pk).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
        assert Client().get(path).status_code == 410
        data = {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}
        assert Client().post(path, data).status_code == 410

    def test_a_new_link_ends_the_old_one(self, world: World) -> None:
        first = signin_link_create(user=world.volunteer, actor=world.secretary)
        signin_link_create(user=world.volunteer, actor=world.secretary)
        assert Client().get(f"/accounts/link/{first.token}/").status_code == 410

    def test_the_new_password_follows_the_policy(self, world: World) -> None:
        made = signin_link_create(user=world.leader, actor=world.secretary)
        path = f"/accounts/link/{made.token}/"
        response = Client().post(path, {"new_password1": "12345678901", "new_password2": "12345678901"})
        assert response.status_code == 400
        assert Client().get(path).status_code == 200  # not spent by a refused password

    def test_only_the_hash_is_kept(self, world: World) -> None:
        made = signin_link_create(user=world.leader, actor=world.secretary)
        assert not SignInLink.objects.filter(token_hash=made.token).exists()
        assert made.token not in SignInLink.objects.get().token_hash

    @pytest.mark.parametrize("who", ["outsider", "officer", "leader", "grid_leader", "volunteer"])
    def test_who_may_not_make_links(self, world: World, who: str) -> None:
        client = Client()
        client.force_login(getattr(world, who))
        assert client.post(f"/accounts/people/{world.leader.pk}/link/").status_code == 404
        if who != "outsider":
            assert client.post(f"/accounts/people/{world.volunteer.pk}/link/").status_code == 404
        assert not AuditLog.objects.filter(action="account.reset_link").exists()
        world.leader.refresh_from_db()
        assert world.leader.has_usable_password()

    def test_no_link_for_oneself_an_officer_or_an_administrator(self, world: World) -> None:
        admin = user_upsert(username="root", password=PASSWORD, role=Role.ADMIN)
        for target in (world.secretary, world.officer, admin):
            with pytest.raises(AccountError):
                signin_link_create(user=target, actor=world.secretary)
        # An administrator resets a secretary.
        assert signin_link_create(user=world.secretary, actor=admin).token


class TestResetLinkCommand:
    def test_the_operator_prints_a_link(self, world: World, capsys: pytest.CaptureFixture[str]) -> None:
        assert main(["accounts", "reset-link", "leader3", "--json", "--base-url", "https://fz.example.org"]) == 0
        payload = json.loads(capsys.readouterr().out)
        assert payload["user"] == "leader3"
        assert payload["url"].startswith("https://fz.example.org/accounts/link/")
        path = payload["url"].removeprefix("https://fz.example.org")
        assert Client().get(path).status_code == 200
        row = AuditLog.objects.get(action="account.reset_link")
        assert row.actor_id is None and row.target_id == str(world.leader.pk)

    def test_with_a_qr_code(self, world: World, capsys: pytest.CaptureFixture[str]) -> None:
        assert main(["accounts", "reset-link", "vol", "--qr"]) == 0
        out = capsys.readouterr().out
        assert "/accounts/link/" in out and "█" in out

    def test_an_unknown_user_is_refused(self, world: World, capsys: pytest.CaptureFixture[str]) -> None:
        assert main(["accounts", "reset-link", "nobody"]) == 2
        assert "no such user" in capsys.readouterr().err
