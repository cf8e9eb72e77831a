"""The roster upload page answers bad input with a clear bilingual message, never a 500."""

from __future__ import annotations

import io

import pytest
from django.test import Client

from fangzhou.registry.models import Resident
from fangzhou.registry.tests.factories import World

pytestmark = pytest.mark.django_db


def upload(client: Client, code: str, name: str, content: bytes, mode: str = "import") -> tuple[int, str]:
    handle = io.BytesIO(content)
    handle.name = name
    response = client.post(f"/c/{code}/roster/", {"file": handle, "mode": mode})
    return response.status_code, response.content.decode()


def test_not_a_spreadsheet(world: World) -> None:
    client = Client()
    client.force_login(world.secretary)
    status, page = upload(client, world.community.code, "photo.xlsx", b"\xff\xd8\xff\xe0 JFIF")
    assert status == 400
    assert "不是有效的 Excel" in page and "not a valid Excel" in page


def test_no_file_chosen(world: World) -> None:
    client = Client()
    client.force_login(world.secretary)
    response = client.post(f"/c/{world.community.code}/roster/", {"mode": "import"})
    assert response.status_code == 400
    assert "请先选择文件" in response.content.decode()


def test_preview_then_import(world: World) -> None:
    client = Client()
    client.force_login(world.secretary)
    csv = "楼号,室号,姓名,手机号\n3号楼,501,钟南,13512345678\n3号楼,502,坏号码,12345\n".encode()
    status, page = upload(client, world.community.code, "r.csv", csv, mode="preview")
    assert status == 200 and "预览" in page and not Resident.objects.filter(name="钟南").exists()
    status, page = upload(client, world.community.code, "r.csv", csv)
    assert status == 200 and Resident.objects.filter(name="钟南").exists()
    assert "11 位手机号" in page and "phone" in page


def test_compound_defaults_when_community_has_one(world: World) -> None:
    client = Client()
    client.force_login(world.secretary)
    upload(client, world.community.code, "r.csv", "楼号,室号,姓名\n3,601,钱学\n".encode())
    assert Resident.objects.get(name="钱学").household.building == world.b3
