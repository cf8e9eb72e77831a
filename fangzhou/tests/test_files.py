"""Uploaded photos reach the media directory only when the service's transaction commits
(``fangzhou.lib.files``): a service that rolls back leaves no orphan file, one that commits leaves
exactly the file its row names."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.db.models import Model
from django.db.models.signals import post_save
from django.utils import timezone

from fangzhou.lib.files import file_store_on_commit
from fangzhou.registry.models import Household
from fangzhou.registry.tests.factories import World
from fangzhou.supplies.models import Delivery
from fangzhou.supplies.services import delivery_mark, distribution_allocate, distribution_create
from fangzhou.testing.models import AntigenSubmission
from fangzhou.testing.services import antigen_report_submit
from fangzhou.workorders.models import Kind, ResidentRequest, WorkOrder
from fangzhou.workorders.services import (
    resident_request_submit,
    work_order_claim,
    work_order_create,
    work_order_transition,
)

pytestmark = pytest.mark.django_db(transaction=True)

JPEG = b"\xff\xd8\xff\xe0 a photo of the door"


def _upload() -> SimpleUploadedFile:
    return SimpleUploadedFile("door.jpg", JPEG, content_type="image/jpeg")


def _delivery(world: World) -> tuple[type[Model], str, Callable[[], Model]]:
    dist = distribution_create(
        community=world.community,
        name="保供包",
        kind="government",
        on=timezone.localdate(),
        package={"大米": 1},
        actor=world.secretary,
    )
    distribution_allocate(distribution=dist, actor=world.secretary)
    delivery = Delivery.objects.filter(distribution=dist).first()
    assert delivery is not None
    return Delivery, "photo", lambda: delivery_mark(delivery_id=delivery.pk, actor=world.secretary, photo=_upload())


def _order_done(world: World) -> tuple[type[Model], str, Callable[[], Model]]:
    order, _created = work_order_create(community=world.community, kind=Kind.PATROL, title="巡逻", actor=None)
    work_order_claim(order_id=order.pk, actor=world.secretary)

    def done() -> Model:
        return work_order_transition(order_id=order.pk, actor=world.secretary, action="done", photo=_upload())

    return WorkOrder, "completion_photo", done


def _request(world: World) -> tuple[type[Model], str, Callable[[], Model]]:
    def submit() -> Model:
        request, _created = resident_request_submit(
            building=world.b3, kind="repair", text="楼道灯坏了", photo=_upload(), client_id="photo-test-0001"
        )
        return request

    return ResidentRequest, "photo", submit


def _antigen(world: World) -> tuple[type[Model], str, Callable[[], Model]]:
    household = Household.objects.get(building=world.b3, room="101")
    member = household.residents.first()
    assert member is not None

    def submit() -> Model:
        return antigen_report_submit(
            household=household,
            day=timezone.localdate(),
            results={member.pk: "negative"},
            client_id="antigen-photo-0001",
            photo=JPEG,
            photo_name="strip.jpg",
        ).submission

    return AntigenSubmission, "photo", submit


SERVICES = {
    "delivery_mark": _delivery,
    "work_order_transition": _order_done,
    "resident_request_submit": _request,
    "antigen_report_submit": _antigen,
}


@pytest.fixture
def media(settings: Any, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = tmp_path / "media"
    return Path(settings.MEDIA_ROOT)


def _files(media: Path) -> list[Path]:
    return sorted(p for p in media.rglob("*") if p.is_file()) if media.exists() else []


class _Boom(RuntimeError):
    pass


@pytest.fixture
def fail_after_photo() -> Iterator[Callable[[type[Model], str], None]]:
    """Make the service fail after its row got the photo: the transaction must roll back."""
    hooks: list[tuple[type[Model], Callable[..., None]]] = []

    def arm(model: type[Model], field: str) -> None:
        def boom(sender: type[Model], instance: Model, **kwargs: Any) -> None:
            if getattr(instance, field):
                raise _Boom("the disk is fine, the database is not")

        post_save.connect(boom, sender=model, weak=False)
        hooks.append((model, boom))

    yield arm
    for model, hook in hooks:
        post_save.disconnect(hook, sender=model)


@pytest.mark.parametrize("service", list(SERVICES))
def test_a_rolled_back_service_leaves_no_orphan_file(
    service: str, world: World, media: Path, fail_after_photo: Callable[[type[Model], str], None]
) -> None:
    model, field, call = SERVICES[service](world)
    before = _files(media)
    fail_after_photo(model, field)
    with pytest.raises(_Boom):
        call()
    assert _files(media) == before
    assert not model._default_manager.exclude(**{field: ""}).exclude(**{f"{field}__isnull": True}).exists()


@pytest.mark.parametrize("service", list(SERVICES))
def test_a_committed_service_stores_exactly_the_file_its_row_names(service: str, world: World, media: Path) -> None:
    model, field, call = SERVICES[service](world)
    row = call()
    row = model._default_manager.get(pk=row.pk)
    name = getattr(row, field).name
    assert name
    assert _files(media) == [media / name]
    assert (media / name).read_bytes() == JPEG


def test_the_file_is_written_at_commit_not_before(world: World, media: Path) -> None:
    """Inside an open transaction the row is named but nothing is on disk yet."""
    order, _created = work_order_create(community=world.community, kind=Kind.PATROL, title="巡逻", actor=None)
    with transaction.atomic():
        file_store_on_commit(order, "completion_photo", _upload(), "door.jpg")
        order.save(update_fields=["completion_photo"])
        assert order.completion_photo.name.startswith("orders/")
        assert _files(media) == []
    assert _files(media) == [media / order.completion_photo.name]


def test_a_name_taken_meanwhile_is_corrected_in_the_committed_row(world: World, media: Path) -> None:
    """Two uploads of the same name in flight at once: storage keeps both, and each row names its own."""
    first, _created = work_order_create(community=world.community, kind=Kind.PATROL, title="一", actor=None)
    second, _created = work_order_create(community=world.community, kind=Kind.PATROL, title="二", actor=None)
    with transaction.atomic():
        file_store_on_commit(first, "completion_photo", _upload(), "door.jpg")
        first.save(update_fields=["completion_photo"])
        file_store_on_commit(second, "completion_photo", SimpleUploadedFile("door.jpg", b"other"), "door.jpg")
        second.save(update_fields=["completion_photo"])
        assert first.completion_photo.name == second.completion_photo.name  # both picked while the name was free
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.completion_photo.name != second.completion_photo.name
    assert (media / first.completion_photo.name).read_bytes() == JPEG
    assert (media / second.completion_photo.name).read_bytes() == b"other"


def test_storing_outside_a_transaction_is_refused(world: World) -> None:
    order, _created = work_order_create(community=world.community, kind=Kind.PATROL, title="巡逻", actor=None)
    with pytest.raises(RuntimeError):
        file_store_on_commit(order, "completion_photo", _upload(), "door.jpg")
