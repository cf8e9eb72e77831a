"""The kit handout form on a building's antigen page: the building's leader and the committee record
kits; the subdistrict officer (who reads counts and changes nothing) and a volunteer are shown the
counts without the form, and a post of theirs is refused with nothing written."""

from __future__ import annotations

import pytest
from django.test import Client

from fangzhou.accounts.models import User
from fangzhou.registry.tests.factories import PASSWORD, World
from fangzhou.testing.models import KitHandout


def client_for(user: User) -> Client:
    client = Client()
    assert client.login(username=user.username, password=PASSWORD)
    return client


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["leader", "secretary"])
def test_leader_and_committee_record_kits(world: World, who: str) -> None:
    client = client_for(getattr(world, who))
    url = f"/testing/antigen/b/{world.b3.pk}/"
    page = client.get(url).content.decode()
    assert 'name="kits"' in page and 'id="share"' in page
    household = world.resident("王秀英").household
    client.post(url, {"household": household.pk, "kits": "2"})
    assert household.kit_handouts.get().kits == 2


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["officer", "volunteer"])
def test_others_see_counts_without_the_form(world: World, who: str) -> None:
    client = client_for(getattr(world, who))
    url = f"/testing/antigen/b/{world.b3.pk}/"
    response = client.get(url)
    if response.status_code == 404:  # not in this person's scope at all: nothing to show
        return
    page = response.content.decode()
    assert response.status_code == 200 and 'id="kits"' in page
    assert 'name="kits"' not in page  # no form to fill
    assert 'id="share"' not in page  # the WeChat group's links are the leader's to post
    household = world.resident("王秀英").household
    refused = client.post(url, {"household": household.pk, "kits": "2"})
    assert refused.status_code == 403
    assert "楼组长" in refused.content.decode() and "building leader" in refused.content.decode()
    assert not KitHandout.objects.exists()
