"""Each import's template carries the headers its importer reads, and its example row is reported
(never imported as a person)."""

from __future__ import annotations

import io

import pytest
from django.test import Client
from openpyxl import load_workbook

from fangzhou.importsheets import TEMPLATES
from fangzhou.lib.importing import ImportReport, sheet_map, sheet_read
from fangzhou.registry.tests.factories import World

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("kind", sorted(TEMPLATES))
def test_the_template_reads_back_through_its_importer(world: World, kind: str) -> None:
    client = Client()
    client.force_login(world.secretary)
    response = client.get(f"/templates/{kind}.xlsx")
    assert response.status_code == 200 and response["Content-Disposition"].endswith('.xlsx"')
    _title, columns, _example = TEMPLATES[kind]
    book = load_workbook(io.BytesIO(response.content))
    rows = list(book.worksheets[0].iter_rows(values_only=True))
    assert rows[0][0] == next(iter(columns.aliases.values()))[0]  # Chinese headers first
    report = ImportReport()
    mapped = sheet_map(sheet_read(data=response.content, filename="t.xlsx", columns=columns), columns, report)
    assert report.rejected == [] and set(columns.required) <= mapped.present
    assert len(rows) == 2 and rows[1][0]  # one example row


def test_templates_need_a_sign_in_and_an_unknown_one_is_404(world: World) -> None:
    assert Client().get("/templates/roster.xlsx").status_code == 302
    client = Client()
    client.force_login(world.volunteer)
    assert client.get("/templates/nothing.xlsx").status_code == 404
