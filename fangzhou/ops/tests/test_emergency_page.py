"""The committee's page of the end of the emergency: who may see it and change it, the two steps,
the future refused, the audit, the withdrawal before retention ran, and the same numbers as the
command's dry run."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest
from django.test import Client
from django.urls import reverse

from fangzhou.accounts.audit import AuditAction
from fangzhou.accounts.models import AuditLog, Role, User
from fangzhou.accounts.services import user_upsert
from fangzhou.cli import main
from fangzhou.ops.models import EmergencyEnd
from fangzhou.ops.retention import community_today, emergency_end_set, retention_run
from fangzhou.registry.tests.factories import PASSWORD, World
from fangzhou.reports.tests.helpers import busy_day

pytestmark = pytest.mark.django_db(transaction=True)


def _client(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _urls(world: World) -> tuple[str, str, str]:
    code = world.community.code
    return (
        reverse("ops:emergency", args=[code]),
        reverse("ops:emergency_end", args=[code]),
        reverse("ops:emergency_withdraw", args=[code]),
    )


def _audits(world: World) -> int:
    return AuditLog.objects.filter(action=AuditAction.EMERGENCY_END, community=world.community).count()


def _rows_on_page(html: str, table: str) -> dict[str, int]:
    """kind -> the page's "Now" count, from the plan table with this id."""
    start = html.index(f'id="{table}"')
    body = html[start : html.index("</table>", start)]
    kinds = re.findall(r'data-kind="(\w+)"', body)
    rows = [int(n) for n in re.findall(r'data-rows="(\d+)"', body)]
    assert len(kinds) == len(rows) > 0
    return dict(zip(kinds, rows, strict=True))


def test_the_secretary_declares_the_end_in_two_steps_audited_once(world: World) -> None:
    page, end, _ = _urls(world)
    client = _client(world.secretary)
    assert "紧急状态仍在继续" in client.get(page).content.decode()
    today = community_today(world.community)

    # Step one: the day is checked and what retention will do from it is shown; nothing is saved.
    first = client.post(end, {"ended_on": today.isoformat()})
    html = first.content.decode()
    assert first.status_code == 200 and 'id="emergency-confirm"' in html
    assert set(_rows_on_page(html, "proposed-plan")) == {
        "antigen_reports",
        "pcr_samples",
        "cases",
        "photos",
        "audit",
        "api_receipts",
        "outbox_receipts",
        "notice_deliveries",
    }
    assert not EmergencyEnd.objects.exists() and _audits(world) == 0

    # Step two, confirmed; then the same confirmation again (a double tap, a resent form).
    for _ in range(2):
        done = client.post(end, {"ended_on": today.isoformat(), "confirm": "yes"})
        assert done.status_code == 302 and done["Location"] == page
    saved = EmergencyEnd.objects.get(community=world.community)
    assert saved.ended_on == today and saved.set_by == world.secretary
    assert _audits(world) == 1
    audit = AuditLog.objects.get(action=AuditAction.EMERGENCY_END)
    assert audit.actor == world.secretary and audit.detail == {"ended_on": today.isoformat(), "before": None}
    assert today.isoformat() in client.get(page).content.decode()


def test_a_future_day_is_refused_with_a_clear_message_by_the_page_and_the_command(world: World) -> None:
    _, end, _ = _urls(world)
    client = _client(world.secretary)
    tomorrow = community_today(world.community) + dt.timedelta(days=1)
    for data in ({"ended_on": tomorrow.isoformat()}, {"ended_on": tomorrow.isoformat(), "confirm": "yes"}):
        response = client.post(end, data)
        assert response.status_code == 400
        assert "结束日期不能晚于今天" in response.content.decode()
    client.cookies["django_language"] = "en"
    english = client.post(end, {"ended_on": tomorrow.isoformat()})
    assert "the end cannot be after today" in english.content.decode()
    assert client.post(end, {"ended_on": "31/05/2022"}).status_code == 400
    assert main(["emergency", "end", "--community", world.community.code, "--on", tomorrow.isoformat()]) == 2
    assert not EmergencyEnd.objects.exists() and _audits(world) == 0


def test_only_the_communitys_committee_sees_it_and_only_the_secretary_changes_it(world: World) -> None:
    page, end, withdraw = _urls(world)
    today = community_today(world.community).isoformat()
    worker = user_upsert(username="sw", password=PASSWORD, role=Role.SOCIAL_WORKER, community=world.community)
    for user in (world.outsider, world.officer, world.leader, world.grid_leader, world.volunteer):
        client = _client(user)
        assert client.get(page).status_code == 404, user.role
        assert client.post(end, {"ended_on": today, "confirm": "yes"}).status_code == 404, user.role
        assert client.post(withdraw).status_code == 404, user.role
    social = _client(worker)
    html = social.get(page).content.decode()
    assert 'id="emergency-secretary-only"' in html and 'id="emergency-declare"' not in html
    assert social.post(end, {"ended_on": today, "confirm": "yes"}).status_code == 403
    assert social.post(withdraw).status_code == 403
    assert Client().get(page).status_code == 302  # signed out: to the sign-in page
    assert not EmergencyEnd.objects.exists() and _audits(world) == 0


def test_the_overview_leads_the_committee_to_the_page(world: World) -> None:
    page, _, _ = _urls(world)
    overview = reverse("registry:community", args=[world.community.code])
    assert page in _client(world.secretary).get(overview).content.decode()
    assert page not in _client(world.leader).get(overview).content.decode()


def test_withdrawn_before_retention_ran_then_no_longer(world: World) -> None:
    busy = busy_day(world)
    page, end, withdraw = _urls(world)
    client = _client(world.secretary)
    client.post(end, {"ended_on": busy.today.isoformat(), "confirm": "yes"})
    assert 'id="emergency-withdraw"' in client.get(page).content.decode()

    assert client.post(withdraw).status_code == 302
    assert client.post(withdraw).status_code == 302  # a second tap: nothing more
    assert not EmergencyEnd.objects.exists()
    assert _audits(world) == 2  # declared, withdrawn

    # Declared again long ago, and retention has run: the end stands.
    emergency_end_set(community=world.community, ended_on=busy.today - dt.timedelta(days=400), actor=world.secretary)
    [ran] = retention_run(dry_run=False, community=world.community)
    assert any(k["rows"] for k in ran.kinds.values())
    html = client.get(page).content.decode()
    assert 'id="emergency-locked"' in html and 'id="emergency-withdraw"' not in html
    refused = client.post(withdraw)
    assert refused.status_code == 400 and "数据清理已于" in refused.content.decode()
    moved = client.post(end, {"ended_on": busy.today.isoformat(), "confirm": "yes"})
    assert moved.status_code == 400
    assert EmergencyEnd.objects.get().ended_on == busy.today - dt.timedelta(days=400)
    # The operator can still withdraw it, explicitly.
    assert main(["emergency", "end", "--community", world.community.code, "--clear"]) == 2
    assert main(["emergency", "end", "--community", world.community.code, "--clear", "--after-retention"]) == 0
    assert not EmergencyEnd.objects.exists()


def test_the_page_and_the_commands_dry_run_agree(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    busy = busy_day(world)
    long_ago = (busy.today - dt.timedelta(days=400)).isoformat()
    assert main(["emergency", "end", "--community", world.community.code, "--on", long_ago]) == 0
    capsys.readouterr()
    assert main(["retention", "--dry-run", "--json", "--community", world.community.code]) == 0
    [command] = json.loads(capsys.readouterr().out)["communities"]
    html = _client(world.secretary).get(_urls(world)[0]).content.decode()
    assert f"{long_ago}" in html
    on_page = _rows_on_page(html, "plan")
    assert on_page == {kind: k["rows"] for kind, k in command["kinds"].items()}  # every kind is due: equal
    assert on_page["antigen_reports"] == 2 and on_page["photos"] == 0

    # The day set on the page is the one the command counts from.
    EmergencyEnd.objects.all().delete()
    client = _client(world.secretary)
    client.post(_urls(world)[1], {"ended_on": busy.today.isoformat(), "confirm": "yes"})
    capsys.readouterr()
    assert main(["retention", "--dry-run", "--json", "--community", world.community.code]) == 0
    [command] = json.loads(capsys.readouterr().out)["communities"]
    assert command["ended_on"] == busy.today.isoformat()
    html = client.get(_urls(world)[0]).content.decode()
    for kind, k in command["kinds"].items():
        assert f'data-kind="{kind}"' in html and k["due_on"] in html
