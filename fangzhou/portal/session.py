"""The household pass: a signed, expiring cookie that stands for "this phone answered room + the
last 4 phone digits of this household on its building's QR page".

No account and no server-side session: the cookie carries the household's id and a digest of the
building's QR token, signed with ``SECRET_KEY`` (``django.core.signing``, its own salt) and dated.
It is refused once older than ``FANGZHOU_HOUSEHOLD_SESSION_HOURS``, and as soon as the building's
token is replaced (a new QR poster ends every pass of the old one). It is sent only to ``/home/``
(the cookie's path), never to a script (HttpOnly). See docs/security.md, "The household pass".
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from django.conf import settings
from django.core import signing
from django.http import HttpRequest, HttpResponse

COOKIE = "fz_household"
PATH = "/home/"
SALT = "fangzhou.portal.household"


@dataclass(frozen=True)
class HouseholdPass:
    household_id: int
    token_digest: str

    def matches(self, token: str) -> bool:
        """The pass was given on this building token's page (the token was not replaced since)."""
        return bool(token) and hmac.compare_digest(self.token_digest, token_digest(token))


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()[:24]


def max_age_s() -> int:
    return int(settings.FANGZHOU_HOUSEHOLD_SESSION_HOURS) * 3600


def pass_give(response: HttpResponse, *, household_id: int, token: str) -> None:
    value = signing.dumps({"h": household_id, "t": token_digest(token)}, salt=SALT)
    response.set_cookie(
        COOKIE,
        value,
        max_age=max_age_s(),
        path=PATH,
        secure=settings.SESSION_COOKIE_SECURE,
        httponly=True,
        samesite="Lax",
    )


def pass_read(request: HttpRequest) -> HouseholdPass | None:
    """The request's pass, or None (none, tampered with, or expired)."""
    raw = request.COOKIES.get(COOKIE, "")
    if not raw or len(raw) > 512:
        return None
    try:
        data = signing.loads(raw, salt=SALT, max_age=max_age_s())
    except signing.BadSignature:  # SignatureExpired is one
        return None
    if not isinstance(data, dict) or not isinstance(data.get("h"), int) or not isinstance(data.get("t"), str):
        return None
    return HouseholdPass(household_id=data["h"], token_digest=data["t"])


def pass_end(response: HttpResponse) -> None:
    response.delete_cookie(COOKIE, path=PATH, samesite="Lax")
