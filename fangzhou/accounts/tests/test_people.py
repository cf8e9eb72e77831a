"""Accounts from a page and a command, the deputy secretary, property management and the owners'
committee, cadres who help several communities, and where each role lands.

Each test acts as a person would: through the accounts page (or `fangzhou accounts …`), then
checks what the people concerned notice — who can sign in, what they may see, what the log says."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest
from django.test import Client
from django.utils import timezone

from fangzhou.accounts.models import AuditLog, Deputy, Role, SignInLink, User
from fangzhou.accounts.permissions import (
    can_manage_community,
    can_reset_password,
    community_q,
    is_secretary_of,
)
from fangzhou.accounts.services import (
    AccountError,
    account_community_add,
    account_community_remove,
    account_create,
    account_disable,
    deputy_name,
    deputy_revoke,
    user_upsert,
)
from fangzhou.cli import main
from fangzhou.registry.models import Community
from fangzhou.registry.services import community_create
from fangzhou.registry.tests.factories import PASSWORD, World

pytestmark = pytest.mark.django_db


def client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _new_leader(client: Client, world: World, username: str = "leader9") -> object:
    return client.post(
        "/accounts/people/new/",
        {
            "community": world.community.code,
            "role": Role.BUILDING_LEADER,
            "username": username,
            "display_name": "赵楼长",
            "buildings": [str(world.b5.pk)],
        },
        follow=True,
    )


def _actions(target_id: int | str) -> list[str]:
    return list(AuditLog.objects.filter(target_id=str(target_id)).order_by("id").values_list("action", flat=True))


class TestAccountsFromThePage:
    def test_the_secretary_creates_a_building_leader_who_signs_in_with_a_link(self, world: World) -> None:
        client = client_for(world.secretary)
        page = _new_leader(client, world).content.decode()  # type: ignore[attr-defined]
        made = User.objects.get(username="leader9")
        assert made.role == Role.BUILDING_LEADER and made.community_id == world.community.pk
        assert list(made.buildings.all()) == [world.b5]
        assert not made.has_usable_password()  # no password passed by hand
        assert "赵楼长" in page and "已建立" in page
        assert _actions(made.pk) == ["user.create"]
        # The sign-in link from the same page; its owner opens it and chooses a password.
        link_page = client.post(f"/accounts/people/{made.pk}/link/").content.decode()
        token = re.search(r"/accounts/link/([\w-]+)/", link_page)
        assert token is not None and "<svg" in link_page
        new_password = "lantern-river-courtyard-7"
        owner = Client()
        done = owner.post(
            f"/accounts/link/{token.group(1)}/", {"new_password1": new_password, "new_password2": new_password}
        )
        assert done.status_code == 302
        assert owner.get("/").status_code == 302  # signed in: home sends them on
        # A leader sees their building's residents, and only theirs.
        assert "刘洋" in owner.get("/residents/", {"q": "刘洋"}).content.decode()
        assert "138****1234" not in owner.get("/residents/", {"q": "张伟"}).content.decode()

    def test_creating_twice_changes_nothing_and_a_taken_name_is_refused(self, world: World) -> None:
        client = client_for(world.secretary)
        _new_leader(client, world)
        page = _new_leader(client, world).content.decode()  # type: ignore[attr-defined]
        assert User.objects.filter(username="leader9").count() == 1
        assert _actions(User.objects.get(username="leader9").pk) == ["user.create"]
        assert "已存在" in page
        taken = _new_leader(client, world, username="vol").content.decode()  # type: ignore[attr-defined]
        assert "此用户名已被使用" in taken
        assert User.objects.get(username="vol").role == Role.VOLUNTEER

    def test_disable_signs_out_at_once_and_enable_lets_back_in(self, world: World) -> None:
        leader_client = client_for(world.leader)
        assert leader_client.get("/residents/").status_code == 200
        link = signin_link_for(world)
        client = client_for(world.secretary)
        page = client.post(f"/accounts/people/{world.leader.pk}/disable/", follow=True).content.decode()
        assert "已停用" in page
        assert not User.objects.get(pk=world.leader.pk).is_active
        assert leader_client.get("/residents/").status_code == 302  # back to the sign-in page
        assert Client().get(f"/accounts/link/{link}/").status_code == 410  # unused links end too
        client.post(f"/accounts/people/{world.leader.pk}/disable/")  # again: nothing more
        assert _actions(world.leader.pk).count("account.disable") == 1
        client.post(f"/accounts/people/{world.leader.pk}/enable/")
        assert User.objects.get(pk=world.leader.pk).is_active
        assert client_for(User.objects.get(pk=world.leader.pk)).get("/residents/").status_code == 200
        assert _actions(world.leader.pk)[-2:] == ["account.disable", "account.enable"]

    def test_the_secretary_manages_only_her_community(self, world: World) -> None:
        stranger = user_upsert(username="sw2", password=PASSWORD, role=Role.SOCIAL_WORKER, community=world.other)
        client = client_for(world.secretary)
        assert "sw2" not in client.get("/accounts/people/").content.decode()
        assert client.post(f"/accounts/people/{stranger.pk}/disable/").status_code == 404
        assert client.post(f"/accounts/people/{stranger.pk}/link/").status_code == 404
        assert User.objects.get(pk=stranger.pk).is_active
        # Nor a community she does not run, nor a secretary (that is the officer's).
        response = client.post(
            "/accounts/people/new/",
            {"community": world.other.code, "role": Role.BUILDING_LEADER, "username": "x1", "display_name": "x"},
        )
        assert response.status_code == 404 and not User.objects.filter(username="x1").exists()
        with pytest.raises(AccountError):
            account_create(actor=world.secretary, username="sec2", role=Role.SECRETARY, community=world.community)

    def test_an_outsider_is_refused_everything(self, world: World) -> None:
        client = client_for(world.outsider)
        page = client.get("/accounts/people/").content.decode()
        assert "leader3" not in page and world.community.name not in page
        for url in (
            f"/accounts/people/{world.leader.pk}/disable/",
            f"/accounts/people/{world.leader.pk}/enable/",
            f"/accounts/people/{world.leader.pk}/link/",
            f"/accounts/people/c/{world.community.code}/deputy/",
            f"/accounts/people/c/{world.community.code}/helpers/",
        ):
            assert client.post(url, {"deputy": world.leader.pk, "username": "leader3"}).status_code == 404, url
        assert User.objects.get(pk=world.leader.pk).is_active
        assert not Deputy.objects.exists()

    def test_a_social_worker_resets_but_does_not_create_or_disable(self, world: World) -> None:
        sw = user_upsert(username="sw", password=PASSWORD, role=Role.SOCIAL_WORKER, community=world.community)
        client = client_for(sw)
        page = client.get("/accounts/people/").content.decode()
        assert "leader3" in page and "生成登录链接" in page
        assert 'id="new-account"' not in page and "停用" not in page
        assert client.post(f"/accounts/people/{world.leader.pk}/disable/").status_code == 302
        assert User.objects.get(pk=world.leader.pk).is_active

    def test_the_officer_manages_the_secretaries_of_her_subdistrict(self, world: World) -> None:
        third = community_create(code="T03", name="第三居民区", subdistrict_name="测试街道")
        client = client_for(world.officer)
        page = client.get("/accounts/people/?c=T03").content.decode()
        assert f'id="person-{world.secretary.pk}"' in page
        assert "outsider" not in page and "leader3" not in page
        response = client.post(
            "/accounts/people/new/",
            {"community": "T03", "role": Role.SECRETARY, "username": "sec3", "display_name": "新书记"},
        )
        assert response.status_code == 302
        sec3 = User.objects.get(username="sec3")
        assert sec3.role == Role.SECRETARY and sec3.community_id == third.pk
        assert can_reset_password(world.officer, sec3, subdistrict_id=third.subdistrict_id)
        assert client.post(f"/accounts/people/{sec3.pk}/link/").status_code == 200
        # Another subdistrict's secretary is not hers; nor are the leaders of her communities.
        assert client.post(f"/accounts/people/{world.outsider.pk}/disable/").status_code == 404
        assert client.post(f"/accounts/people/{world.leader.pk}/disable/").status_code == 404
        with pytest.raises(AccountError):
            account_create(actor=world.officer, username="l1", role=Role.BUILDING_LEADER, community=third)


def signin_link_for(world: World) -> str:
    from fangzhou.accounts.services import signin_link_create

    return signin_link_create(user=world.leader, actor=world.secretary).token


class TestDeputy:
    def test_a_deputy_acts_as_secretary_while_it_lasts_and_the_secretary_keeps_hers(self, world: World) -> None:
        c = world.community
        client = client_for(world.secretary)
        until = timezone.localtime() + dt.timedelta(days=7)
        response = client.post(
            f"/accounts/people/c/{c.code}/deputy/",
            {"deputy": world.leader.pk, "ends_at": until.strftime("%Y-%m-%dT%H:%M")},
        )
        assert response.status_code == 302
        held = Deputy.objects.get()
        assert held.deputy == world.leader and held.secretary == world.secretary
        leader = User.objects.get(pk=world.leader.pk)
        assert is_secretary_of(leader, c.pk) and can_manage_community(leader, c.pk)
        assert is_secretary_of(world.secretary, c.pk)  # she keeps her access
        # The overview says who acts, and until when; the deputy reads the whole community.
        overview = client_for(leader).get(f"/c/{c.code}/").content.decode()
        assert f"代理书记：{leader}" in overview
        assert until.strftime("%Y-%m-%d %H:%M") in overview
        assert "138****1234" in client_for(leader).get("/residents/", {"q": "张伟"}).content.decode()
        assert (
            client_for(leader)
            .post(
                "/accounts/people/new/",
                {
                    "community": c.code,
                    "role": Role.GRID_LEADER,
                    "username": "g2",
                    "display_name": "网格二",
                },
            )
            .status_code
            == 302
        )
        assert User.objects.filter(username="g2").exists()
        # A deputy does not name a further deputy.
        assert (
            client_for(leader)
            .post(f"/accounts/people/c/{c.code}/deputy/", {"deputy": world.grid_leader.pk})
            .status_code
            == 404
        )
        assert _actions(world.leader.pk)[-1] == "deputy.name"

    def test_it_ends_at_its_time_or_when_revoked(self, world: World) -> None:
        c = world.community
        held, created = deputy_name(actor=world.secretary, community=c, deputy=world.grid_leader)
        again, created_again = deputy_name(
            actor=world.secretary, community=c, deputy=world.grid_leader, starts_at=held.starts_at
        )
        assert created and not created_again and again.pk == held.pk
        assert "代理书记：" in client_for(world.secretary).get(f"/c/{c.code}/").content.decode()
        Deputy.objects.filter(pk=held.pk).update(ends_at=timezone.now() - dt.timedelta(minutes=1))
        grid = User.objects.get(pk=world.grid_leader.pk)
        assert not can_manage_community(grid, c.pk)
        assert "代理书记：" not in client_for(world.secretary).get(f"/c/{c.code}/").content.decode()
        second, _ = deputy_name(actor=world.secretary, community=c, deputy=world.leader)
        assert can_manage_community(User.objects.get(pk=world.leader.pk), c.pk)
        client_for(world.secretary).post(f"/accounts/people/deputy/{second.pk}/end/")
        assert not can_manage_community(User.objects.get(pk=world.leader.pk), c.pk)
        deputy_revoke(actor=world.secretary, deputy_id=second.pk)  # again: nothing more
        assert AuditLog.objects.filter(action="deputy.revoke").count() == 1

    def test_naming_another_ends_the_first_and_disabling_ends_it(self, world: World) -> None:
        c = world.community
        deputy_name(actor=world.secretary, community=c, deputy=world.grid_leader)
        deputy_name(actor=world.secretary, community=c, deputy=world.leader)
        assert [d.deputy_id for d in Deputy.objects.filter(revoked_at__isnull=True)] == [world.leader.pk]
        account_disable(actor=world.secretary, target=world.leader)
        assert not Deputy.objects.filter(revoked_at__isnull=True).exists()

    def test_only_a_colleague_of_the_community_may_be_deputy(self, world: World) -> None:
        for who in (world.volunteer, world.outsider, world.secretary, world.officer):
            with pytest.raises(AccountError):
                deputy_name(actor=world.secretary, community=world.community, deputy=who)
        with pytest.raises(AccountError):  # the end before now
            deputy_name(
                actor=world.secretary,
                community=world.community,
                deputy=world.leader,
                ends_at=timezone.now() - dt.timedelta(hours=1),
            )
        with pytest.raises(AccountError):
            deputy_name(actor=world.outsider, community=world.community, deputy=world.leader)


class TestPropertyAndOwners:
    def test_property_management_sees_places_and_zones_never_a_resident(self, world: World) -> None:
        wuye, _ = account_create(
            actor=world.secretary,
            username="wuye",
            role=Role.PROPERTY_MANAGER,
            community=world.community,
            display_name="物业 钱经理",
        )
        client = client_for(wuye)
        assert client.get("/").url == f"/zones/c/{world.community.code}/"  # type: ignore[attr-defined]
        zones = client.get(f"/zones/c/{world.community.code}/")
        assert zones.status_code == 200 and "阳光小区" in zones.content.decode()
        assert client.get(f"/c/{world.community.code}/").status_code == 404  # the overview: special care
        assert client.get(f"/b/{world.b3.pk}/").status_code == 404  # a building's households
        assert "138****1234" not in client.get("/residents/", {"q": "张伟"}).content.decode()
        assert client.post(f"/api/residents/{world.resident('张伟').pk}/unmask").status_code in {403, 404}
        assert client.get(f"/cases/c/{world.community.code}/").status_code == 404
        assert client.get(f"/reports/c/{world.community.code}/").status_code == 403
        assert client.get(f"/zones/c/{world.other.code}/").status_code == 404
        nav = client.get(f"/zones/c/{world.community.code}/").content.decode()
        assert 'href="/cases/c/' not in nav and 'href="/care/c/' not in nav and 'href="/c/' not in nav
        assert 'href="/residents/"' not in nav  # no resident search in its header

    def test_the_owners_committee_is_a_contact_that_never_signs_in(self, world: World) -> None:
        owners, _ = account_create(
            actor=world.secretary,
            username="yeweihui",
            role=Role.OWNERS_COMMITTEE,
            community=world.community,
            display_name="业委会 孙主任",
            phone="13912340000",
        )
        assert not owners.has_usable_password()
        assert not can_reset_password(world.secretary, owners)
        page = client_for(world.secretary).get("/accounts/people/").content.decode()
        assert "业委会 孙主任" in page and 'href="tel:13912340000"' in page  # a contact to call
        refused = client_for(world.secretary).post(f"/accounts/people/{owners.pk}/link/", follow=True)
        assert "无权为此账号生成登录链接" in refused.content.decode()
        assert not SignInLink.objects.filter(user=owners).exists()
        forced = client_for(owners)  # even if it were signed in, it sees nothing
        assert forced.get(f"/zones/c/{world.community.code}/").status_code == 404
        assert "138****1234" not in forced.get("/residents/", {"q": "张伟"}).content.decode()


class TestSeveralCommunities:
    def test_a_cadre_given_two_communities_works_in_both(self, world: World) -> None:
        third = community_create(code="T03", name="第三居民区", subdistrict_name="测试街道")
        sec3 = user_upsert(username="sec3", password=PASSWORD, role=Role.SECRETARY, community=third)
        cadre = user_upsert(username="cadre", password=PASSWORD, role=Role.SOCIAL_WORKER, community=world.community)
        client = client_for(sec3)
        assert client.post("/accounts/people/c/T03/helpers/", {"username": "cadre"}).status_code == 302
        assert "cadre" in client.get("/accounts/people/").content.decode()
        account_community_add(actor=sec3, target=cadre, community=third)  # again: nothing more
        assert AuditLog.objects.filter(action="account.community_add").count() == 1
        cadre = User.objects.get(pk=cadre.pk)
        seen = set(Community.objects.filter(community_q(cadre)).values_list("code", flat=True))
        assert seen == {"T01", "T03"}
        assert can_manage_community(cadre, third.pk) and can_manage_community(cadre, world.community.pk)
        # The landing lists both; the section bar offers both and follows the community on the page.
        cadre_client = client_for(cadre)
        home = cadre_client.get("/")
        assert (
            home.status_code == 200 and "第三居民区" in home.content.decode() and "测试居民区" in home.content.decode()
        )
        page = cadre_client.get("/c/T03/").content.decode()
        assert 'href="/testing/c/T03/"' in page and 'class="sections communities"' in page
        created = cadre_client.post("/testing/c/T03/", {"date": timezone.localdate().isoformat()})
        assert created.status_code == 302
        assert AuditLog.objects.filter(action="round.create", community=third, actor=cadre).exists()
        # Another subdistrict's secretary cannot add her, and removal ends it.
        with pytest.raises(AccountError):
            account_community_add(actor=world.outsider, target=cadre, community=third)
        account_community_remove(actor=sec3, target=cadre, community=third)
        cadre = User.objects.get(pk=cadre.pk)
        assert not can_manage_community(cadre, third.pk)
        assert client_for(cadre).get("/c/T03/").status_code == 404


class TestLanding:
    def test_the_officer_lands_on_the_subdistrict_table_with_officer_sections(self, world: World) -> None:
        client = client_for(world.officer)
        response = client.get("/")
        assert response.status_code == 302 and response.url == "/reports/"  # type: ignore[attr-defined]
        page = client.get("/reports/").content.decode()
        sections = page[page.index('class="sections"') : page.index("</nav>", page.index('class="sections"'))]
        assert "街道汇总" in sections and "/transfers/" in sections
        for committee_only in ("/testing/", "/cases/", "/care/", "/supplies/", "/volunteers/"):
            assert committee_only not in sections, committee_only

    def test_after_signing_in_the_officer_is_on_the_table(self, world: World) -> None:
        client = Client()
        response = client.post("/accounts/login/", {"username": "officer", "password": PASSWORD}, follow=True)
        assert response.redirect_chain[-1][0] == "/reports/"
        assert "张伟" not in response.content.decode()

    def test_the_secretary_still_lands_on_her_overview(self, world: World) -> None:
        response = client_for(world.secretary).get("/")
        assert response.url == f"/c/{world.community.code}/"  # type: ignore[attr-defined]


class TestCommand:
    def run(self, capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, object]]:
        code = main(list(argv))
        out = capsys.readouterr().out
        return code, (json.loads(out) if code == 0 and "--json" in argv else {})

    def test_create_disable_enable_reset_and_deputy(self, world: World, capsys: pytest.CaptureFixture[str]) -> None:
        code, made = self.run(
            capsys,
            "accounts",
            "create",
            "leader7",
            "--role",
            "building_leader",
            "--community",
            "T01",
            "--name",
            "孙楼长",
            "--building",
            "阳光小区 5号楼",
            "--link",
            "--json",
        )
        assert code == 0 and made["created"] is True
        assert "/accounts/link/" in str(made["link"])
        leader7 = User.objects.get(username="leader7")
        assert list(leader7.buildings.all()) == [world.b5] and SignInLink.objects.filter(user=leader7).exists()
        code, again = self.run(
            capsys, "accounts", "create", "leader7", "--role", "building_leader", "--community", "T01", "--json"
        )
        assert code == 0 and again["created"] is False
        assert self.run(capsys, "accounts", "disable", "leader7", "--json") == (
            0,
            {"user": "leader7", "active": False, "changed": True},
        )
        assert self.run(capsys, "accounts", "disable", "leader7", "--json")[1]["changed"] is False
        assert self.run(capsys, "accounts", "enable", "leader7", "--json")[1]["active"] is True
        code, link = self.run(capsys, "accounts", "reset-link", "leader7", "--json")
        assert code == 0 and "/accounts/link/" in str(link["url"])
        code, _ = self.run(capsys, "accounts", "deputy", "T01", "leader7", "--until", "2099-04-30T18:00", "--json")
        assert code == 0 and Deputy.objects.get().deputy == leader7
        assert _actions(leader7.pk) == [
            "user.create",
            "account.reset_link",
            "account.disable",
            "account.enable",
            "account.reset_link",
            "deputy.name",
        ]

    def test_refusals_exit_2(self, world: World, capsys: pytest.CaptureFixture[str]) -> None:
        assert main(["accounts", "create", "x", "--role", "building_leader", "--community", "NOPE"]) == 2
        assert (
            main(["accounts", "create", "x", "--role", "building_leader", "--community", "T01", "--building", "9号楼"])
            == 2
        )
        assert main(["accounts", "create", "vol", "--role", "building_leader", "--community", "T01"]) == 2
        assert main(["accounts", "disable", "nobody"]) == 2
        assert main(["accounts", "deputy", "T01", "vol"]) == 2
        assert not User.objects.filter(username="x").exists()


class TestReachCostsNothingUsually:
    def test_one_community_and_no_deputyship_reads_nothing_more(self, world: World) -> None:
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        from fangzhou.accounts.permissions import reach

        secretary = User.objects.get(pk=world.secretary.pk)
        with CaptureQueriesContext(connection) as queries:
            assert reach(secretary).communities == {world.community.pk}
        assert len(queries) == 0

    def test_the_flag_follows_helps_and_deputyships(self, world: World) -> None:
        def flag(user: User) -> bool:
            return User.objects.get(pk=user.pk).extra_scope

        account_community_add(actor=world.outsider, target=world.secretary, community=world.other)
        assert flag(world.secretary)
        account_community_remove(actor=world.outsider, target=world.secretary, community=world.other)
        assert not flag(world.secretary)
        deputy_name(actor=world.secretary, community=world.community, deputy=world.leader)
        assert flag(world.leader)
        deputy_name(actor=world.secretary, community=world.community, deputy=world.grid_leader)
        assert not flag(world.leader) and flag(world.grid_leader)
        account_disable(actor=world.secretary, target=world.grid_leader)
        assert not flag(world.grid_leader)


def test_a_volunteers_phone_number_user_name_is_masked_on_the_accounts_page(world: World) -> None:
    """A volunteer's user name is their mobile number: the colleagues' list shows it masked."""
    user_upsert(username="13912345678", password=PASSWORD, role=Role.VOLUNTEER, community=world.community)
    page = client_for(world.secretary).get("/accounts/people/").content.decode()
    assert "13912345678" not in page
    assert "139****5678" in page
