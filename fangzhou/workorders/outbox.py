"""Field actions sent from a phone's outbox (issue 13): idempotent on the tap's ``client_id``.

A view of a field action (mark delivered, check-in, claim/start/done/release an order) calls
``replayed`` first: a tap the server has already answered gets that stored answer back and changes
nothing. After the action it calls ``answer`` with the outcome, which stores the receipt (with the
phone's time of the tap next to the server's) and answers JSON to the outbox (``X-Fangzhou-Outbox:
1`` or ``Accept: application/json``) and the page as today to a browser or htmx.

Where the action is one transaction, its receipt is written inside it (``Tap``: the view hands
``tap.record`` to the service, which calls it before its transaction commits), so a crash cannot
leave the action done without its receipt. Where it is not (a conflict or refusal decided before
anything is written; actions whose service has no receipt hook yet, see docs/architecture.md,
"Offline"), ``answer`` writes the receipt after the action's transaction: a crash between the two
means the replay runs the action again, which every one of these services takes as a no-op or a
"you already did" answer. The action itself is audited by its service; the receipt is the phone's
delivery note only.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass

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


def receipt_write(
    request: HttpRequest,
    *,
    kind: str,
    target_id: int,
    outcome: OutboxReceipt.Outcome,
    message: str,
    status: int | None = None,
) -> OutboxReceipt:
    """Store the receipt of this tap (when it carries a client id; else an unsaved one to answer
    with). Inside an open transaction it joins it (a savepoint guards the unique client id)."""
    client_id = client_id_of(request)
    receipt = OutboxReceipt(
        client_id=client_id or "",
        user=acting_user(request),
        kind=kind,
        target_id=target_id,
        outcome=outcome,
        status_code=status or STATUS[outcome],
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
    return receipt


def respond(request: HttpRequest, receipt: OutboxReceipt, page: Callable[[], HttpResponse]) -> HttpResponse:
    """JSON to the outbox, else ``page()`` (built only then: it may leave a flash message)."""
    if wants_json(request):
        return _json(receipt, replay=False)
    return page()


def answer(
    request: HttpRequest,
    *,
    kind: str,
    target_id: int,
    outcome: OutboxReceipt.Outcome,
    message: str,
    page: Callable[[], HttpResponse],
    status: int | None = None,
) -> HttpResponse:
    """Store the receipt of this tap (after the action: see the module's note) and answer it."""
    receipt = receipt_write(request, kind=kind, target_id=target_id, outcome=outcome, message=message, status=status)
    return respond(request, receipt, page)


@dataclass
class Tap:
    """One tap whose receipt is written inside the action's own transaction: the view passes
    ``record`` (or a function calling it) to the service, then answers with ``respond``."""

    request: HttpRequest
    kind: str
    receipt: OutboxReceipt | None = None

    def record(self, *, target_id: int, message: str) -> None:
        """The action is done (called by the service before its transaction commits)."""
        self.receipt = receipt_write(
            self.request, kind=self.kind, target_id=target_id, outcome=OutboxReceipt.Outcome.DONE, message=message
        )

    def respond(self, page: Callable[[], HttpResponse], *, target_id: int, message: str) -> HttpResponse:
        """Answer the tap; a service that found the action already done (no ``record`` call: a
        replay whose receipt a crash lost) still stores one now."""
        if self.receipt is None:
            self.record(target_id=target_id, message=message)
        assert self.receipt is not None
        return respond(self.request, self.receipt, page)
