"""Machine clients on the API: ``Authorization: Bearer fz_<prefix>_<secret>``.

``ApiKeyAuth(scope)`` is a django-ninja auth class, usable on an operation alone or next to the
session (``auth=[django_auth, ApiKeyAuth(Scope.REPORTS_READ)]``). For a request that carries a key:

- the key is looked up by its visible prefix and its SHA-256 compared in constant time;
- unknown, wrong, revoked or expired → 401 problem; a key without the operation's scope → 403;
  each refusal writes an ``api_token.refuse`` audit row (refusals of keys that do not exist are
  themselves limited per address, so a flood cannot fill the audit log);
- every use is counted per key in the shared cache (``lib/ratelimit.py``): past
  ``FANGZHOU_API_TOKEN_RATE`` a window, 429 with Retry-After (audited once a window);
- the key's last use is recorded (at most once a minute).

The operation finds the key in ``request.auth`` and scopes its query with
``permissions.token_community_q``; another community's record is 404 (and audited with
:func:`refuse_place`). Posts keep their answer under the client's batch id (:func:`receipt_replay`,
:func:`receipt_keep`), so a repeat changes nothing and answers the same.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import re
from typing import Any, NoReturn

from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils import timezone
from ninja.errors import HttpError, Throttled
from ninja.security import HttpBearer

from fangzhou.accounts.models import ApiReceipt, ApiToken, Role, Scope, User
from fangzhou.accounts.services import api_key_hash, api_token_refusal_record
from fangzhou.lib.ratelimit import client_address, rate_hit

KEY = re.compile(r"^fz_([0-9a-f]{8})_([A-Za-z0-9_-]{20,100})$")
# Refusals of keys that do not exist, audited per address and window before they are only refused.
UNKNOWN_AUDITED_PER_WINDOW = 20
LAST_USED_EVERY = dt.timedelta(minutes=1)
KEY_REFUSED = "接口密钥无效、已吊销或已过期 / the API key is unknown, revoked or expired"


class ApiKeyAuth(HttpBearer):
    """A machine client's key holding ``scope``. Without an Authorization header it answers None,
    so the next auth of the operation (the session) may still let the request in."""

    def __init__(self, scope: Scope) -> None:
        self.scope = scope
        super().__init__()

    def __call__(self, request: HttpRequest) -> ApiToken | None:
        header = request.headers.get(self.header, "")
        if not header:
            return None
        scheme, _, key = header.partition(" ")
        if scheme.lower() != "bearer":
            _refuse(request, None, "", "malformed")
        return self.authenticate(request, key.strip())

    def authenticate(self, request: HttpRequest, token: str) -> ApiToken:
        return key_check(request, token, self.scope)


def _refuse(request: HttpRequest, token: ApiToken | None, prefix: str, reason: str) -> NoReturn:
    """Audit the refusal (bounded per address for keys that do not exist) and answer 401."""
    if token is not None or _unknown_within_budget(request):
        api_token_refusal_record(token=token, prefix=prefix, reason=reason, path=request.path)
    raise HttpError(401, KEY_REFUSED)


def _unknown_within_budget(request: HttpRequest) -> bool:
    window = settings.FANGZHOU_API_TOKEN_RATE_WINDOW_S
    return rate_hit("apikey-unknown", client_address(request), UNKNOWN_AUDITED_PER_WINDOW, window) == 0


def key_check(request: HttpRequest, key: str, scope: Scope) -> ApiToken:
    """The key's token if it may be used for ``scope`` now; else raise the refusal (audited)."""
    match = KEY.match(key)
    if match is None:
        _refuse(request, None, "", "malformed")
    prefix = match.group(1)
    token = ApiToken.objects.filter(prefix=prefix).first()
    if token is None:
        _refuse(request, None, prefix, "unknown")
    if not hmac.compare_digest(api_key_hash(key), token.secret_hash):
        _refuse(request, token, prefix, "wrong_secret")
    now = timezone.now()
    if token.revoked_at is not None:
        _refuse(request, token, prefix, "revoked")
    if token.expires_at is not None and token.expires_at <= now:
        _refuse(request, token, prefix, "expired")
    window = settings.FANGZHOU_API_TOKEN_RATE_WINDOW_S
    wait = rate_hit("apikey", prefix, settings.FANGZHOU_API_TOKEN_RATE, window)
    if wait:
        if cache.add(f"fz:rl:apikey-audited:{prefix}:{int(now.timestamp() // window)}", 1, window + 5):
            api_token_refusal_record(token=token, prefix=prefix, reason="rate_limited", path=request.path)
        raise Throttled(wait=wait)
    if scope not in token.scopes:
        api_token_refusal_record(token=token, prefix=prefix, reason=f"scope:{scope}", path=request.path)
        raise HttpError(403, f"此密钥无权进行此操作（需要 {scope}） / this key lacks the scope {scope}")
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_EVERY:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token


def request_token(request: HttpRequest) -> ApiToken | None:
    """The key a request came in with (after ``ApiKeyAuth`` let it through), or None (a session)."""
    auth = getattr(request, "auth", None)
    return auth if isinstance(auth, ApiToken) else None


def refuse_place(request: HttpRequest, token: ApiToken) -> None:
    """The key asked for a record outside its communities: audited; the caller answers 404."""
    api_token_refusal_record(token=token, prefix=token.prefix, reason="other_place", path=request.path)


def token_reader(token: ApiToken) -> User:
    """A stand-in user, never saved, with which the report selectors read counts for a key: a
    subdistrict officer of the key's subdistrict (reads counts, unmasks and changes nothing). The
    caller narrows it to the key's own communities (``token_community_q``)."""
    subdistrict_id = token.subdistrict_id
    if subdistrict_id is None and token.community is not None:
        subdistrict_id = token.community.subdistrict_id
    return User(
        username=f"api:{token.prefix}",
        role=Role.SUBDISTRICT_OFFICER,
        subdistrict_id=subdistrict_id,
        is_active=True,
    )


# --------------------------------------------------------------------------------------------------
# Receipts: a repeated post answers what the first one did


def body_digest(payload: Any) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


class BatchConflict(Exception):
    """The batch id was used before for other rows."""


def receipt_replay(token: ApiToken, operation: str, key: str, digest: str) -> ApiReceipt | None:
    """The stored answer of this post if it was made before; ``BatchConflict`` if the batch id was
    used for a different body."""
    receipt = ApiReceipt.objects.filter(token=token, operation=operation, key=key).first()
    if receipt is not None and receipt.digest != digest:
        raise BatchConflict(key)
    return receipt


def receipt_keep(token: ApiToken, operation: str, key: str, digest: str, status: int, body: Any) -> ApiReceipt:
    """Keep the answer (the first of two racing posts wins; the second gets the first's answer)."""
    try:
        with transaction.atomic():
            return ApiReceipt.objects.create(
                token=token, operation=operation, key=key, digest=digest, status=status, body=body
            )
    except IntegrityError:
        return ApiReceipt.objects.get(token=token, operation=operation, key=key)
