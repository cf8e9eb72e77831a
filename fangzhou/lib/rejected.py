"""The rows an upload sent back, kept for the person who uploaded them (their session, until their
next upload of that kind) as a workbook with a reason column: fix it and upload it again."""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping, Sequence
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.utils.translation import gettext as _

from fangzhou.lib.importing import Columns, rejected_rows_workbook

MAX_BYTES = 2 * 1024 * 1024
_KEY = re.compile(r"[a-z]+-\d+")


def _session_key(key: str) -> str:
    return f"rejected:{key}"


def rejected_keep(
    request: HttpRequest,
    key: str,
    *,
    data: bytes,
    filename: str,
    columns: Columns,
    rejections: Sequence[Mapping[str, Any]],
) -> bool:
    """After an upload: keep its rejected rows under ``key`` ("roster-3", "samples-12"); True when
    there is a file to download."""
    assert _KEY.fullmatch(key), key
    request.session.pop(_session_key(key), None)
    workbook = rejected_rows_workbook(data=data, filename=filename, columns=columns, rejections=rejections)
    if workbook is None or len(workbook) > MAX_BYTES:
        return False
    request.session[_session_key(key)] = base64.b64encode(workbook).decode()
    return True


def rejected_download(request: HttpRequest, key: str) -> HttpResponse:
    """The kept rows of this person's last upload under ``key`` (404 when there are none)."""
    kept = request.session.get(_session_key(key)) if _KEY.fullmatch(key) else None
    if not kept:
        raise Http404(_("No rejected rows to download: upload the file first."))
    response = HttpResponse(
        base64.b64decode(kept), content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    response["Content-Disposition"] = f'attachment; filename="{key}-rejected.xlsx"'
    response["Cache-Control"] = "no-store"
    return response


def rejected_held(request: HttpRequest, key: str) -> bool:
    """Whether this person's last upload under ``key`` left rows to download."""
    return _session_key(key) in request.session
