"""Field actions sent from a phone's outbox (issue 13): idempotent on the tap's ``client_id``.

A view of a field action (mark delivered, check-in, claim/start/done/release an order) calls
``replayed`` first: a tap the server has already answered gets that stored answer back and changes
nothing. After the action it calls ``answer`` with the outcome, which stores the receipt (with the
phone's time of the tap next to the server's) and answers JSON to the outbox (``X-Fangzhou-Outbox:
1`` or ``Accept: application/json``) and the page as today to a browser or htmx.

The receipt is written after the action's own transaction (the services are durable entry
points): a crash between the two leaves an action without a receipt, and its replay runs the
action again, which every one of these services takes as a no-op or a "you already did" answer.
The action itself is audited by its service; the receipt is the phone's delivery note only.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable

from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.utils.html import escape

from fangzhou.accounts.permissions import acting_user
from fangzhou.workorders.models import OutboxReceipt

CLIENT_ID = re.compile(r"[A-Za-z0-9_-]{8,64}")
STATUS = {
    OutboxReceipt.Outcome.DONE: 200,
    OutboxReceipt.Outcome.CONFLICT: 409,
    OutboxReceipt.Outcome.REFUSED: 403,
}


def wants_json(request: HttpRequest) -> bool:
    """The outbox asks for a machine answer; a page or htmx gets the page as today."""
    return request.headers.get("X-Fangzhou-Outbox") == "1" or "application/json" in request.headers.get("Accept", "")


def client_id_of(request: HttpRequest) -> str | None:
    value = request.POST.get("client_id", "").strip()
    return value if CLIENT_ID.fullmatch(value) else None


def done_at_client_of(request: HttpRequest) -> dt.datetime | None:
    """The phone's clock when the button was tapped (ISO 8601), if it sent a readable one."""
    raw = request.POST.get("done_at_client", "").strip()
    if not raw:
        return None
    try:
        value = dt.datetime.fromisoformat(raw)
    except ValueError:
        return None
    if timezone.is_naive(value):
        value = timezone.make_aware(value)
    return value


def _json(receipt: OutboxReceipt, *, replay: bool) -> JsonResponse:
    return JsonResponse(
        {
            "ok": receipt.outcome == OutboxReceipt.Outcome.DONE,
            "outcome": receipt.outcome,
            "message": receipt.message,
            "client_id": receipt.client_id,
            "replay": replay,
        },
        status=receipt.status_code,
    )


def replayed(request: HttpRequest) -> HttpResponse | None:
    """The stored answer if this tap was answered before, else None (go on and act)."""
    client_id = client_id_of(request)
    if client_id is None:
        return None
    receipt = OutboxReceipt.objects.filter(client_id=client_id).first()
    if receipt is None:
        return None
    if receipt.user_id != request.user.pk:
        # Another account's tap id: say nothing about it (ids are random; this is a forged replay).
        return JsonResponse({"ok": False, "outcome": "refused", "message": "client_id"}, status=400)
    if wants_json(request):
        return _json(receipt, replay=True)
    css = "flash" if receipt.outcome == OutboxReceipt.Outcome.DONE else "error"
    return HttpResponse(f'<p class="{css}" role="status">{escape(receipt.message)}</p>', status=receipt.status_code)


def answer(
    request: HttpRequest,
    *,
    kind: str,
    target_id: int,
    outcome: OutboxReceipt.Outcome,
    message: str,
    page: Callable[[], HttpResponse],
) -> HttpResponse:
    """Store the receipt of this tap (when it carries a client id) and answer it: JSON to the
    outbox, else ``page()`` (built only then: it may leave a flash message for the next page)."""
    client_id = client_id_of(request)
    receipt = OutboxReceipt(
        client_id=client_id or "",
        user=acting_user(request),
        kind=kind,
        target_id=target_id,
        outcome=outcome,
        status_code=STATUS[outcome],
        message=str(message)[:300],
        done_at_client=done_at_client_of(request),
    )
    if client_id is not None:
        try:
            with transaction.atomic():
                receipt.save()
        except IntegrityError:  # the same tap arrived twice at once: the first answer stands
            stored = OutboxReceipt.objects.filter(client_id=client_id).first()
            if stored is not None:
                receipt = stored
    if wants_json(request):
        return _json(receipt, replay=False)
    return page()
