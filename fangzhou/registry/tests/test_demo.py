"""The demo seed: a realistic community built through the real services, and safe to run twice."""

from __future__ import annotations

import io

import pytest
from django.contrib.auth import authenticate

from fangzhou.accounts.models import Role, User
from fangzhou.registry.demo import REFERENCE_DATE, DemoError, demo_seed
from fangzhou.registry.models import Building, Community, Compound, Grid, Household, IdType, Resident
from fangzhou.registry.roster import normalize as nz


@pytest.fixture(autouse=True)
def fast_hasher(settings):
    # Argon2 is deliberately slow; the accounts are checked the same way with a fast hasher.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def _counts() -> dict[str, int]:
    return {
        "communities": Community.objects.count(),
        "compounds": Compound.objects.count(),
        "grids": Grid.objects.count(),
        "buildings": Building.objects.count(),
        "households": Household.objects.count(),
        "residents": Resident.objects.count(),
        "users": User.objects.count(),
    }


@pytest.mark.django_db
def test_small_demo_builds_a_plausible_community():
    out = io.StringIO()
    result = demo_seed(size="small", stdout=out)

    community = Community.objects.get()
    assert community.code == result.communities[0]
    assert community.subdistrict.name == "华新街道"
    assert result.rejected == 0, out.getvalue()
    assert result.created == result.rows == result.residents
    assert "done in" in out.getvalue()

    compounds = list(Compound.objects.filter(community=community))
    assert len(compounds) == 2
    assert {c.kind for c in compounds} == {Compound.Kind.RESIDENTIAL}
    assert sorted(Grid.objects.values_list("name", flat=True)) == ["第一网格", "第二网格"]

    buildings = list(Building.objects.filter(community=community))
    assert len(buildings) == 10
    for b in buildings:
        assert b.grid_id is not None
        assert b.x is not None and b.y is not None and b.x > 0 and b.y > 0
        assert (b.width, b.depth) == (40, 12)
        assert 5 <= b.floors <= 7
    # Buildings do not overlap on the site plan.
    for i, a in enumerate(buildings):
        for b in buildings[i + 1 :]:
            assert abs(a.x - b.x) >= (a.width + b.width) / 2 or abs(a.y - b.y) >= (a.depth + b.depth) / 2

    residents = list(Resident.objects.filter(community=community))
    assert 450 <= len(residents) <= 750
    assert 180 <= Household.objects.count() <= 260
    for r in residents:
        assert r.id_type == IdType.RESIDENT_ID
        facts = nz.resident_id(r.id_number, today=REFERENCE_DATE)
        assert (facts.sex, facts.birth_date) == (r.sex, r.birth_date)
        assert nz.person_name(r.name) == r.name
        if r.phone:
            assert nz.phone(r.phone) == r.phone
    assert len({r.id_number for r in residents}) == len(residents)
    sizes = [h.residents.count() for h in Household.objects.all()]
    assert min(sizes) >= 1 and max(sizes) <= 5

    by_type = {t: sum(r.resident_type == t for r in residents) for t in ("registered", "permanent", "tenant")}
    assert by_type["registered"] > len(residents) / 2
    assert by_type["permanent"] > 0 and by_type["tenant"] > 0

    alone = [r for r in residents if "elderly_alone" in r.special_codes]
    assert 0.01 * len(residents) <= len(alone) <= 0.06 * len(residents)
    for r in alone:
        assert r.birth_date is not None and (REFERENCE_DATE - r.birth_date).days > 60 * 365
        assert r.household.residents.count() == 1
    assert any("limited_mobility" in r.special_codes for r in residents)


@pytest.mark.django_db
def test_second_run_changes_nothing():
    first = demo_seed(size="small")
    before = _counts()
    snapshot = sorted(Resident.objects.values_list("id", "id_number", "name", "phone", "special", "household_id"))
    places = sorted(Building.objects.values_list("id", "x", "y", "width", "depth", "floors", "grid_id"))

    second = demo_seed(size="small")

    assert _counts() == before
    assert second.created == second.updated == second.rejected == 0
    assert second.unchanged == second.rows == first.rows
    report = second.reports[second.communities[0]]
    assert report.unchanged == report.rows_read == first.residents
    assert sorted(Resident.objects.values_list("id", "id_number", "name", "phone", "special", "household_id")) == (
        snapshot
    )
    assert sorted(Building.objects.values_list("id", "x", "y", "width", "depth", "floors", "grid_id")) == places


@pytest.mark.django_db
def test_accounts_work_and_get_new_passwords():
    first = demo_seed(size="small")
    roles = {username: role for username, role, _, _ in first.accounts}
    # Every staff role; the volunteer account comes with a real volunteer profile from the
    # volunteers app's demo (fangzhou/demo.py), not from the registry. The owners' committee is a
    # contact entry that never signs in.
    assert set(roles.values()) == set(Role.values) - {Role.VOLUNTEER, Role.OWNERS_COMMITTEE}
    owners = User.objects.get(role=Role.OWNERS_COMMITTEE)
    assert not owners.has_usable_password() and "业委会" in owners.display_name
    assert roles["secretary"] == Role.SECRETARY and roles["leader"] == Role.BUILDING_LEADER
    for username, _, password, scope in first.accounts:
        user = authenticate(username=username, password=password)
        assert user is not None, username
        assert scope

    community = Community.objects.get()
    leader = User.objects.get(username="leader")
    assert leader.community == community and leader.buildings.count() == 2
    grid_leader = User.objects.get(username="gridleader")
    assert list(grid_leader.grids.values_list("name", flat=True)) == ["第一网格"]
    officer = User.objects.get(username="subdistrict")
    assert officer.subdistrict == community.subdistrict
    assert User.objects.get(username="admin").is_superuser

    second = demo_seed(size="small")
    old = {username: password for username, _, password, _ in first.accounts}
    for username, _, password, _ in second.accounts:
        assert password != old[username]
        assert authenticate(username=username, password=old[username]) is None
        assert authenticate(username=username, password=password) is not None


def test_unknown_size_is_refused():
    with pytest.raises(DemoError):
        demo_seed(size="huge")
