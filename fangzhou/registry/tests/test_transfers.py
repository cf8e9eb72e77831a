"""A roster naming a person registered elsewhere: the uploader learns nothing of where; the
subdistrict officer over the person's community approves the move (or declines it)."""

from __future__ import annotations

import pytest
from django.test import Client

from fangzhou.accounts.audit import AuditAction
from fangzhou.accounts.models import AuditLog, Role
from fangzhou.accounts.services import user_upsert
from fangzhou.registry.models import Resident, ResidentTransfer, TransferStatus
from fangzhou.registry.roster.importer import ELSEWHERE_ZH, roster_import
from fangzhou.registry.services import RegistryError, resident_transfer_decide
from fangzhou.registry.tests.factories import PASSWORD, World, roster_sheet


def _sheet_naming(world: World) -> list[list[object]]:
    zhang = world.resident("张伟")
    return [["河畔小区", "2号楼", "501", "张伟", zhang.id_number, "13800001234", "", ""]]


def _import(world: World, *, dry_run: bool) -> object:
    return roster_import(
        community=world.other,
        actor=world.outsider,
        sheet=roster_sheet(_sheet_naming(world)),  # type: ignore[arg-type]
        filename="o2.xlsx",
        dry_run=dry_run,
    )


@pytest.mark.django_db
def test_the_refusal_names_no_other_place_and_a_dry_run_is_audited(world: World) -> None:
    report = _import(world, dry_run=True)
    (rejection,) = report.rejected  # type: ignore[attr-defined]
    assert rejection.reason_zh == ELSEWHERE_ZH
    assert world.community.name not in rejection.reason and world.community.code not in rejection.reason
    assert not ResidentTransfer.objects.exists()  # a dry run asks nobody
    row = AuditLog.objects.get(action=AuditAction.ROSTER_IMPORT_DRY_RUN)
    assert row.actor == world.outsider and row.community_id == world.other.pk


@pytest.mark.django_db
def test_an_import_asks_the_subdistrict_once_and_the_officer_moves_the_person(world: World) -> None:
    _import(world, dry_run=False)
    _import(world, dry_run=False)  # the same upload again: still one request
    transfer = ResidentTransfer.objects.get()
    assert transfer.status == TransferStatus.PENDING and transfer.to_community == world.other

    # The uploader's page says only that the subdistrict was asked.
    secretary = Client()
    secretary.force_login(world.outsider)
    assert secretary.get("/transfers/").status_code == 403
    assert secretary.post(f"/transfers/{transfer.pk}/decide/", {"decision": "approve"}).status_code == 404

    officer = Client()
    officer.force_login(world.officer)
    page = officer.get("/transfers/").content.decode()
    assert "张伟" in page and world.community.name in page and world.other.name in page
    assert world.resident("张伟").id_number not in page  # masked
    response = officer.post(f"/transfers/{transfer.pk}/decide/", {"decision": "approve"})
    assert response.status_code == 302
    zhang = Resident.objects.select_related("household__building__compound").get(name="张伟")
    assert zhang.community == world.other
    assert (zhang.household.building.compound.name, zhang.household.building.number, zhang.household.room) == (
        "河畔小区",
        "2",
        "501",
    )
    assert AuditLog.objects.filter(action=AuditAction.RESIDENT_TRANSFER_APPROVE, target_id=str(zhang.pk)).count() == 1
    # Deciding again changes nothing.
    resident_transfer_decide(transfer_id=transfer.pk, actor=world.officer, approve=False)
    transfer.refresh_from_db()
    assert transfer.status == TransferStatus.APPROVED
    assert "没有待审批的迁移" in officer.get("/transfers/").content.decode()


@pytest.mark.django_db
def test_only_the_officer_over_the_persons_community_decides(world: World) -> None:
    _import(world, dry_run=False)
    transfer = ResidentTransfer.objects.get()
    elsewhere = user_upsert(
        username="officer2", password=PASSWORD, role=Role.SUBDISTRICT_OFFICER, subdistrict=world.other.subdistrict
    )
    for user in (elsewhere, world.secretary, world.outsider):
        with pytest.raises(RegistryError):
            resident_transfer_decide(transfer_id=transfer.pk, actor=user, approve=True)
    resident_transfer_decide(transfer_id=transfer.pk, actor=world.officer, approve=False)
    assert world.resident("张伟").community == world.community  # declined: the person stays
    assert AuditLog.objects.filter(action=AuditAction.RESIDENT_TRANSFER_DECLINE).count() == 1


@pytest.mark.django_db
def test_a_decision_that_is_neither_approve_nor_decline_changes_nothing(world: World) -> None:
    _import(world, dry_run=False)
    transfer = ResidentTransfer.objects.get()
    officer = Client()
    officer.force_login(world.officer)
    response = officer.post(f"/transfers/{transfer.pk}/decide/", {"decision": "maybe"})
    body = response.content.decode()
    assert response.status_code == 400 and "请选择同意或不同意" in body and "Choose approve or decline" in body
    transfer.refresh_from_db()
    assert transfer.status == TransferStatus.PENDING and world.resident("张伟").community == world.community
