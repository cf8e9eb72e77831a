"""Each import's template (/templates/<kind>.xlsx): the Chinese headers its importer reads, one
example row and which columns must be filled, so a committee starts from a sheet that imports."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.http import require_GET

from fangzhou.cases.contacts import CONTACT_COLUMNS
from fangzhou.cases.services import CASE_COLUMNS
from fangzhou.lib.importing import Columns
from fangzhou.lib.sheetwrite import Value, import_template
from fangzhou.registry.roster.importer import COLUMNS as ROSTER_COLUMNS
from fangzhou.supplies.services import IMPORT_COLUMNS as PURCHASE_COLUMNS
from fangzhou.testing.services import RESULTS, SAMPLES

# An example row per kind: made-up values of the right shape (the ID number fails its check digit
# on purpose, so an example left in the sheet is reported, never imported as a person).
TEMPLATES: dict[str, tuple[str, Columns, Mapping[str, Value]]] = {
    "roster": (
        "花名册 Roster",
        ROSTER_COLUMNS,
        {
            "compound": "阳光小区",
            "building": "3号楼",
            "room": "101",
            "name": "张三",
            "id_type": "居民身份证",
            "id_number": "310104198001010000",
            "sex": "男",
            "birth_date": "1980-01-01",
            "phone": "13800000000",
            "resident_type": "户籍",
            "special": "独居老人",
            "note": "",
            "grid": "一网格",
        },
    ),
    "samples": (
        "采样 Samples",
        SAMPLES,
        {
            "tube": "HX0000000001",
            "id_number": "310104198001010000",
            "name": "张三",
            "sampled_at": "2022-04-28 08:30",
            "site": "3号楼下",
        },
    ),
    "results": (
        "检测结果 Results",
        RESULTS,
        {"tube": "HX0000000001", "result": "阴性", "ct_orf1ab": "", "ct_n": "", "tested_at": "2022-04-28 20:00"},
    ),
    "purchase": (
        "团购 Group purchase",
        PURCHASE_COLUMNS,
        {"building": "3号楼", "room": "101", "item": "蔬菜包", "quantity": "1", "compound": "阳光小区"},
    ),
    "cases": (
        "病例 Cases",
        CASE_COLUMNS,
        {"id_number": "310104198001010000", "name": "张三", "report_date": "2022-04-28", "source": "区推送"},
    ),
    "contacts": (
        "密接 Contacts",
        CONTACT_COLUMNS,
        {
            "case_id_number": "310104198001010000",
            "name": "李四",
            "id_number": "",
            "phone": "13900000000",
            "degree": "密接",
            "since": "2022-04-27",
            "place": "",
            "via_id_number": "",
        },
    ),
}


@require_GET
@login_required
def template_download(request: HttpRequest, kind: str) -> HttpResponse:
    entry = TEMPLATES.get(kind)
    if entry is None:
        raise Http404("no such template")
    title, columns, example = entry
    aliases: Mapping[str, Sequence[str]] = columns.aliases
    data = import_template(title, aliases, columns.required, example)
    response = HttpResponse(data, content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    response["Content-Disposition"] = f'attachment; filename="fangzhou-{kind}-template.xlsx"'
    return response
