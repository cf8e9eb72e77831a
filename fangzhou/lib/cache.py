"""Django's Redis cache, with one Redis client per connection pool instead of one per call.

Django's ``RedisCacheClient.get_client`` builds a new ``redis.Redis`` for every cache operation,
and redis-py's constructor copies its table of ~170 response callbacks into a case-insensitive
dict each time: about 0.7 ms of CPU per operation, more than the round trip to Redis itself. A
``redis.Redis`` is safe to share (it takes a connection from its pool for each command), so this
backend builds it once per pool. Everything else is Django's backend unchanged.

It also runs the rate limiter's Lua scripts (:meth:`RedisCache.script`), so that a counter's
increment and its expiry are one atomic round trip (``fangzhou.lib.ratelimit``). The public
antigen submit runs two of them per request, so a script goes to Redis on a lean path: on a
connection of the thread's own (made with the pool's settings, never shared), ``EVALSHA``
packed by hand and its answer read by redis-py's parser, without the per-command machinery of
redis-py 8 around it (taking and returning a pooled connection, health probe, retry wrapper,
observability counters: about 60 % of a script's CPU, measured). A script Redis does not know
(it restarted) or a connection refused, reset or timed out closes that connection and runs the
script through redis-py's own client, retries and all; any other error is raised as it was.

    CACHES = {"default": {"BACKEND": "fangzhou.lib.cache.RedisCache", "LOCATION": "redis://…"}}
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Sequence
from typing import Any

from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from django.core.cache.backends.redis import RedisCacheClient
from redis import exceptions as redis_errors
from redis.connection import Connection


class _SharedClient(RedisCacheClient):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._clients: dict[int, Any] = {}

    def get_client(self, key: Any = None, *, write: bool = False) -> Any:
        django: Any = self  # Django's private helpers, which its stubs do not declare
        index = django._get_connection_pool_index(write)
        client = self._clients.get(index)
        if client is None:
            pool = django._get_connection_pool(write)
            client = self._clients[index] = django._client(connection_pool=pool)
        return client


class RedisCache(DjangoRedisCache):
    """``django.core.cache.backends.redis.RedisCache`` reusing its clients, plus Lua scripts."""

    def __init__(self, server: str, params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._class = _SharedClient
        self._scripts: dict[str, Any] = {}
        self._shas: dict[str, bytes] = {}
        self._lean = threading.local()

    def script(self, source: str, keys: Sequence[str], args: Sequence[int | float | str]) -> Any:
        """Run a Lua script (by its SHA once Redis knows it) over these cache keys (Django's key
        prefix and version applied, as ``get``/``set`` do) on the server that takes writes."""
        made = [self.make_key(k) for k in keys]
        sha = self._shas.get(source)
        if sha is not None:
            try:
                return self._lean_evalsha(sha, made, args)
            except (redis_errors.NoScriptError, redis_errors.ConnectionError, redis_errors.TimeoutError, OSError):
                # Redis forgot the script, or the connection broke (the script did not run, or
                # at worst its answer was lost: counted once more, stricter, as redis-py's own
                # retry would): a fresh connection next time, and redis-py's path now.
                self._lean_close()
        script = self._scripts.get(source)
        if script is None:
            script = self._scripts[source] = self._cache.get_client(write=True).register_script(source)
        answer = script(keys=made, args=list(args))  # loads the script into Redis when it must
        self._shas[source] = hashlib.sha1(source.encode()).hexdigest().encode()  # noqa: S324 - Redis names scripts so
        return answer

    def _lean_evalsha(self, sha: bytes, keys: list[str], args: Sequence[int | float | str]) -> Any:
        conn = self._lean_connection()
        parts = [b"EVALSHA", sha, b"%d" % len(keys), *(k.encode() for k in keys), *(str(a).encode() for a in args)]
        packed = b"".join([b"*%d\r\n" % len(parts), *(b"$%d\r\n%s\r\n" % (len(p), p) for p in parts)])
        conn.send_packed_command([packed], check_health=False)  # type: ignore[no-untyped-call]
        return conn.read_response()  # an error the server answered is raised (NoScriptError…)

    def _lean_connection(self) -> Connection:
        conn: Connection | None = getattr(self._lean, "conn", None)
        if conn is None or self._lean.pid != os.getpid():  # none yet, or made before a fork
            pool = self._cache._get_connection_pool(True)  # type: ignore[attr-defined]  # Django's, not in its stubs
            conn = self._lean.conn = pool.connection_class(**pool.connection_kwargs)
            self._lean.pid = os.getpid()
        return conn

    def _lean_close(self) -> None:
        conn = getattr(self._lean, "conn", None)
        self._lean.conn = None
        if conn is not None and self._lean.pid == os.getpid():
            conn.disconnect()
