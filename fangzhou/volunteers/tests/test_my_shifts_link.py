"""The work list links to "my shifts and health" only for someone who has a volunteer profile:
a building leader who is not a volunteer tapped it and found a 404."""

from __future__ import annotations

from django.test import Client

from fangzhou.accounts.models import User
from fangzhou.registry.tests.factories import World
from fangzhou.volunteers.tests.helpers import approved


def _orders(user: User) -> str:
    client = Client()
    client.force_login(user)
    answer = client.get("/orders/")
    assert answer.status_code == 200
    return answer.content.decode()


def test_a_leader_without_a_profile_is_not_sent_to_a_404(world: World) -> None:
    page = _orders(world.leader)
    assert "/volunteers/me/" not in page
    assert 'id="type-request"' in page  # their own tab stays


def test_a_volunteer_finds_their_shifts(world: World) -> None:
    volunteer = approved(world.community, "王芳", "13811110101")
    assert volunteer.user is not None
    page = _orders(volunteer.user)
    assert 'id="my-shifts"' in page and "/volunteers/me/" in page
    client = Client()
    client.force_login(volunteer.user)
    assert client.get("/volunteers/me/").status_code == 200


def test_a_leader_who_volunteers_too_finds_both(world: World) -> None:
    volunteer = approved(world.community, "李强", "13811110102")
    volunteer.user = world.leader
    volunteer.save(update_fields=["user"])
    page = _orders(world.leader)
    assert 'id="my-shifts"' in page and 'id="type-request"' in page
