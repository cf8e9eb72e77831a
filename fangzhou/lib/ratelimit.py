"""Limits for the public (no-account) pages and API endpoints, counted in the shared cache.

- ``client_address(request)``: the address a limit counts. ``REMOTE_ADDR`` unless the connection
  comes from a trusted proxy (``FANGZHOU_TRUSTED_PROXIES``); only then is ``X-Forwarded-For``
  read, right to left, skipping our own proxies. A client that reaches the server directly cannot
  choose its address by sending the header.
- ``public_rate_limited`` (pages) and ``public_api_rate_limited`` (django-ninja operations): one
  fixed-window counter per address and one per building token (or sign-up token), in Django's cache.
  The embedded default keeps the cache in the process; production sets ``CACHE_URL`` to Redis so
  that every server process counts against the same numbers. On Redis both counters are one Lua
  script (one round trip, each increment and its expiry atomic; ``fangzhou.lib.cache``).
- ``identify_guarded``: room + the last 4 phone digits is a small secret, so each household (per
  building token and room) is locked after a few wrong answers, for longer each time, and the
  resident is told when to try again. A guesser locks only the households they guess at.
- ``public_rate_limited_at_identify``: for the public antigen page's posts, the hot path, the public
  limit is counted inside ``identify_guarded``; on Redis in the same script as the household's
  lock, so that a right answer with no wrong one before it takes one round trip, not two.

The numbers and why they fit a building of 300 households behind one carrier NAT are in
docs/architecture.md ("Public pages at the edge").
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import ipaddress
import math
import re
import time
from collections.abc import Callable
from typing import Any, TypeVar

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from ninja.decorators import decorate_view

from fangzhou.lib.errors import Refused

TOO_MANY = "提交过于频繁，请稍后再试。/ Too many requests, please try again later."
IDENTIFY_LOCK_MAX_S = 24 * 3600

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
T = TypeVar("T")


# --------------------------------------------------------------------------------------------------
# The client's address


@functools.lru_cache(maxsize=8)
def _trusted(values: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(v, strict=False) for v in values)


def _address(raw: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    raw = raw.strip().strip('"')
    if raw.startswith("["):  # [2001:db8::1]:443
        raw = raw[1:].split("]", 1)[0]
    elif raw.count(":") == 1:  # 203.0.113.7:5555
        raw = raw.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(raw)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


def client_address(request: HttpRequest) -> str:
    """The address of whoever sent the request, as far as our own proxies can vouch for it."""
    remote = request.META.get("REMOTE_ADDR", "") or ""
    trusted = _trusted(tuple(settings.FANGZHOU_TRUSTED_PROXIES))
    peer = _address(remote)
    if peer is None or not trusted or not any(peer in net for net in trusted):
        return str(peer) if peer is not None else remote
    hops = [h for h in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if h.strip()]
    client = peer
    for hop in reversed(hops):  # each proxy appends the address it was reached from
        address = _address(hop)
        if address is None:
            break  # a garbled entry: believe nothing to its left
        client = address
        if not any(address in net for net in trusted):
            break
    return str(client)


# --------------------------------------------------------------------------------------------------
# Fixed-window counters in the shared cache


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:32]


# One round trip on Redis: each counter's INCR, and its expiry when the INCR created it, atomically
# (a counter can never be left without an expiry). KEYS: the counters; ARGV: their lifetimes.
_COUNT_LUA = """
local counts = {}
for i, key in ipairs(KEYS) do
  local n = redis.call('INCR', key)
  if n == 1 then redis.call('EXPIRE', key, ARGV[i]) end
  counts[i] = n
end
return counts
"""


def _counts(keys: list[tuple[str, int]]) -> list[int]:
    """Count one hit on each ``(key, lifetime_s)``; the counts after it. One Lua script on Redis
    (``fangzhou.lib.cache.RedisCache``); ``add`` then ``incr`` on any other cache."""
    script = getattr(cache, "script", None)
    if script is not None:
        return [int(n) for n in script(_COUNT_LUA, [k for k, _ in keys], [ttl for _, ttl in keys])]
    counts = []
    for key, ttl in keys:
        if cache.add(key, 1, ttl):
            counts.append(1)
            continue
        try:
            counts.append(cache.incr(key))
        except ValueError:  # expired between add and incr
            cache.add(key, 1, ttl)
            counts.append(1)
    return counts


def _window(kind: str, subject: str, window_s: int, now: float) -> tuple[str, int]:
    return f"fz:rl:{kind}:{_digest(subject)}:{int(now // window_s)}", window_s + 5


def _wait(count: int, limit: int, window_s: int, now: float) -> int:
    if count <= limit:
        return 0
    return max(1, math.ceil((int(now // window_s) + 1) * window_s - now))


def rate_hit(kind: str, subject: str, limit: int, window_s: int) -> int:
    """Count one request of ``subject`` in the current window: 0 when within ``limit``, else the
    seconds until the window ends. Atomic across processes (one script on Redis)."""
    now = time.time()
    (count,) = _counts([_window(kind, subject, window_s, now)])
    return _wait(count, limit, window_s, now)


def _refusal(request: HttpRequest, retry_after: int, *, api: bool) -> HttpResponse:
    response: HttpResponse
    wants_html = "text/html" in request.headers.get("Accept", "")
    if api or (request.method == "POST" and not wants_html):
        response = JsonResponse({"ok": False, "detail": TOO_MANY, "retry_after": retry_after}, status=429)
    else:
        response = HttpResponse(TOO_MANY, status=429, content_type="text/plain; charset=utf-8")
    response["Retry-After"] = str(retry_after)
    return response


def _public_windows(request: HttpRequest, token: str, now: float) -> list[tuple[str, int]]:
    """The public limit's two counters of this request, ``(key, lifetime_s)``: its address's, its token's."""
    window = settings.FANGZHOU_PUBLIC_RATE_WINDOW_S
    return [_window("addr", client_address(request), window, now), _window("tok", token[:128], window, now)]


def _public_wait(by_address: int, by_token: int, now: float) -> int:
    """The seconds to wait after those counts (0: within both limits)."""
    window = settings.FANGZHOU_PUBLIC_RATE_WINDOW_S
    return max(
        _wait(by_address, settings.FANGZHOU_PUBLIC_RATE_PER_ADDRESS, window, now),
        _wait(by_token, settings.FANGZHOU_PUBLIC_RATE_PER_TOKEN, window, now),
    )


def public_limit_exceeded(request: HttpRequest, token: str) -> int:
    """Count this request against its address and its token; the seconds to wait, or 0."""
    now = time.time()
    by_address, by_token = _counts(_public_windows(request, token, now))
    return _public_wait(by_address, by_token, now)


class PublicLimitExceeded(Exception):
    """Past the public limit of the request's address or token (``identify_guarded(request=…)``)."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(retry_after)
        self.retry_after = retry_after


# Set in a request's META once its public limit was counted (``identify_guarded``).
_COUNTED = "fangzhou.public_limit_counted"


def _limited(view: Callable[..., HttpResponse], *, api: bool) -> Callable[..., HttpResponse]:
    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        token = str(kwargs.get("token", args[0] if args else ""))
        wait = public_limit_exceeded(request, token)
        if wait:
            return _refusal(request, wait, api=api)
        return view(request, *args, **kwargs)

    wrapper.public_rate_limited = True  # type: ignore[attr-defined]
    return wrapper


def public_rate_limited(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """For a public page ``view(request, token, ...)``: 429 with Retry-After past either limit.

    Posts from a page's own script (``fetch``, which does not ask for HTML) get the refusal as
    JSON ``{"ok", "detail", "retry_after"}``; a browser's page or form gets it as text."""
    return _limited(view, api=False)


def public_rate_limited_at_identify(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """``public_rate_limited`` for a view ``view(request, token, ...)`` whose first step is
    ``identify_guarded(token, room, attempt, request=request)``: the limit is counted there, before
    any SQL (on Redis in the household's own script, ``identify_guarded``), and refused as
    ``public_rate_limited`` refuses it. A request the view answers without that step (a GET, a
    form it rejects first) or that raises before it is counted after, and refused if it was past
    the limit."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        token = str(kwargs.get("token", args[0] if args else ""))

        def late_wait() -> int:  # the count of a request the guard did not see
            return 0 if request.META.get(_COUNTED) else public_limit_exceeded(request, token)

        try:
            response = view(request, *args, **kwargs)
        except PublicLimitExceeded as exc:
            return _refusal(request, exc.retry_after, api=False)
        except Exception:  # a 404 for an unknown token, say: counted all the same
            if wait := late_wait():
                return _refusal(request, wait, api=False)
            raise
        if wait := late_wait():
            return _refusal(request, wait, api=False)
        return response

    wrapper.public_rate_limited = True  # type: ignore[attr-defined]
    return wrapper


def _api_limited(run: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    return _limited(run, api=True)


#: For a public django-ninja operation with a ``{token}`` path parameter, under ``@router.post``:
#: counted before the body is parsed, refused as JSON with Retry-After.
public_api_rate_limited = decorate_view(_api_limited)


# --------------------------------------------------------------------------------------------------
# Household identify: room + last 4 phone digits


class HouseholdLocked(Refused):
    """Too many wrong answers for one household: say when to try again."""

    def __init__(self, retry_after: int) -> None:
        self.retry_after = retry_after
        at = timezone.localtime(timezone.now() + dt.timedelta(seconds=retry_after)).strftime("%H:%M")
        minutes = max(1, math.ceil(retry_after / 60))
        super().__init__(
            f"错误次数过多，本户已暂时锁定。请在 {at} 之后（约 {minutes} 分钟后）再试，或联系楼组长。",
            f"Too many wrong answers: this household is locked for now. Try again after {at} "
            f"(in about {minutes} minutes), or ask your building leader.",
        )


def _household_key(token: str, room: str) -> str:
    room = re.sub(r"\s+", "", room or "").removesuffix("室").casefold()[:32]
    return _digest(f"{token[:128]}\x00{room}")


# After the lookup, in one atomic step. KEYS: the household's lock and its count of wrong answers;
# ARGV: 1 when the answer was right, the wrong answers allowed, the count's lifetime. Answers
# {the lock's milliseconds left, 0} when locked (the lock key lives as long as the lock, ``_lock``);
# {0, limit + 1} when the limit was reached meanwhile (told nothing); {0, 0} for a right answer
# (the count cleared); else {0, the count of wrong answers with this one}.
_IDENTIFY_LUA = """
local left = redis.call('PTTL', KEYS[1])
if left > 0 then return {left, 0} end
local n = tonumber(redis.call('GET', KEYS[2]) or '0')
if n >= tonumber(ARGV[2]) then return {0, n + 1} end
if ARGV[1] == '1' then
  redis.call('DEL', KEYS[2])
  return {0, 0}
end
n = redis.call('INCR', KEYS[2])
if n == 1 then redis.call('EXPIRE', KEYS[2], ARGV[3]) end
return {0, n}
"""


# Before the lookup, when the public limit is counted in the same step (``identify_guarded(request=…)``).
# KEYS: the address's and the token's counters, the household's lock, its count of wrong answers
# and its "in flight" marker; ARGV: the two counters' lifetimes and limits, the marker's lifetime
# in ms. Past either limit: {address count, token count, 0, 0, 0}, the household's keys untouched.
# Else {address count, token count, the lock's ms left (0: none), wrong answers so far, guesses
# at this household started within the marker's lifetime, this one included}.
_ADMIT_LUA = """
local a = redis.call('INCR', KEYS[1])
if a == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
local t = redis.call('INCR', KEYS[2])
if t == 1 then redis.call('EXPIRE', KEYS[2], ARGV[2]) end
if a > tonumber(ARGV[3]) or t > tonumber(ARGV[4]) then return {a, t, 0, 0, 0} end
local left = redis.call('PTTL', KEYS[3])
if left > 0 then return {a, t, left, 0, 0} end
local n = tonumber(redis.call('GET', KEYS[4]) or '0')
local alone = redis.call('INCR', KEYS[5])
if alone == 1 then redis.call('PEXPIRE', KEYS[5], ARGV[5]) end
return {a, t, 0, n, alone}
"""
# How long a guess keeps its household "in flight" for the check above: longer than a lookup takes.
ALONE_S = 2.0


def _admit(request: HttpRequest, token: str, household_keys: tuple[str, str, str, str], max_failures: int) -> int:
    """Count the public limit and check the household before its lookup, in one script on Redis.
    Raises ``PublicLimitExceeded`` or ``HouseholdLocked``; answers the guesses at this household in
    flight (1: this one alone), or 0 when a wrong answer was counted since the last right one."""
    now = time.time()
    (by_address_key, by_address_ttl), (by_token_key, by_token_ttl) = _public_windows(request, token, now)
    lock_key, fails_key, level_key, fly_key = household_keys
    by_address, by_token, locked_ms, failures, alone = (
        int(n)
        for n in cache.script(  # type: ignore[attr-defined]  # fangzhou.lib.cache.RedisCache
            _ADMIT_LUA,
            [by_address_key, by_token_key, lock_key, fails_key, fly_key],
            [
                by_address_ttl,
                by_token_ttl,
                settings.FANGZHOU_PUBLIC_RATE_PER_ADDRESS,
                settings.FANGZHOU_PUBLIC_RATE_PER_TOKEN,
                int(ALONE_S * 1000),
            ],
        )
    )
    request.META[_COUNTED] = True
    if wait := _public_wait(by_address, by_token, now):
        raise PublicLimitExceeded(wait)
    if locked_ms > 0:
        raise HouseholdLocked(math.ceil(locked_ms / 1000))
    if failures >= max_failures:  # the limit was reached meanwhile: lock without looking
        raise HouseholdLocked(_lock(lock_key, level_key, fails_key))
    return alone if failures == 0 else 0


def identify_guarded(
    token: str, room: str, attempt: Callable[[], T | None], *, request: HttpRequest | None = None
) -> T | None:
    """Run ``attempt`` (room + digits → the household, or None) unless this household is locked.

    After ``FANGZHOU_IDENTIFY_MAX_FAILURES`` wrong answers the household (of this token) is
    locked for ``FANGZHOU_IDENTIFY_LOCK_S``, doubling with each lock within a day (at most a day).
    A right answer clears the count. Raises ``HouseholdLocked``.

    A burst of parallel guesses cannot get more answers than the limit. On Redis the answer is
    looked up first, then checked and counted in one atomic script (one round trip): it is told
    only while fewer than the limit of wrong answers have been counted. On any other cache each
    attempt is counted before it runs and the count of a right one is cleared after.

    With ``request`` (``public_rate_limited_at_identify``), the public limit of the request's
    address and the token is counted first, before any lookup; past it ``PublicLimitExceeded`` is
    raised and the household's count is not touched. On Redis that count and a first check of
    the household (locked? wrong answers so far?) are one script before the lookup; a right answer
    then needs no second script when no wrong answer is counted and no other guess at the household
    started within ``ALONE_S``: nothing could have been counted between the check and the answer
    that a second script would see. Every other answer takes the second script as above, so a
    burst (many guesses in flight at once) is still checked and counted one by one."""
    key = _household_key(token, room)
    fails_key, lock_key, level_key = f"fz:idf:n:{key}", f"fz:idf:lock:{key}", f"fz:idf:lvl:{key}"
    max_failures = settings.FANGZHOU_IDENTIFY_MAX_FAILURES
    script = getattr(cache, "script", None)
    if script is not None:
        household_keys = (lock_key, fails_key, level_key, f"fz:idf:fly:{key}")
        alone = _admit(request, token, household_keys, max_failures) if request is not None else 0
        result = attempt()
        if result is not None and alone == 1:
            return result
        right = 1 if result is not None else 0
        locked_ms, count = (
            int(n) for n in script(_IDENTIFY_LUA, [lock_key, fails_key], [right, max_failures, IDENTIFY_LOCK_MAX_S])
        )
        if locked_ms > 0:
            raise HouseholdLocked(math.ceil(locked_ms / 1000))
        if count > max_failures:
            raise HouseholdLocked(_lock(lock_key, level_key, fails_key))
        if result is not None:
            return result
    else:
        if request is not None:
            request.META[_COUNTED] = True
            wait = public_limit_exceeded(request, token)
            if wait:
                raise PublicLimitExceeded(wait)
        locked_until = cache.get(lock_key)
        now = time.time()
        if locked_until is not None and locked_until > now:
            raise HouseholdLocked(math.ceil(locked_until - now))
        (count,) = _counts([(fails_key, IDENTIFY_LOCK_MAX_S)])
        if count > max_failures:  # in flight past the limit: lock without looking
            raise HouseholdLocked(_lock(lock_key, level_key, fails_key))
        result = attempt()
        if result is not None:
            cache.delete(fails_key)
            return result
    if count >= max_failures:
        raise HouseholdLocked(_lock(lock_key, level_key, fails_key))
    return None


def _lock(lock_key: str, level_key: str, fails_key: str) -> int:
    existing = cache.get(lock_key)
    now = time.time()
    if existing is not None and existing > now:
        return math.ceil(float(existing) - now)
    (level,) = _counts([(level_key, IDENTIFY_LOCK_MAX_S)])
    seconds = int(min(IDENTIFY_LOCK_MAX_S, settings.FANGZHOU_IDENTIFY_LOCK_S * 2 ** min(level - 1, 16)))
    cache.set(lock_key, now + seconds, seconds)
    cache.delete(fails_key)
    return seconds
