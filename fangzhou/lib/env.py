"""Small typed helpers that read settings from the environment and fail loudly on bad values."""

from __future__ import annotations

import ipaddress
import json
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import dj_database_url


class ConfigError(RuntimeError):
    pass


def envstr(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def envmap(name: str, default: str = "") -> dict[str, str]:
    """``"a=1,b=2"`` as ``{"a": "1", "b": "2"}``; a part without ``=`` is an error."""
    raw = os.environ.get(name, default).strip()
    found: dict[str, str] = {}
    for part in filter(None, (piece.strip() for piece in raw.split(","))):
        key, sep, value = part.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise ConfigError(f"{name}: {part!r} is not key=value")
        found[key.strip()] = value.strip()
    return found


def envbool(name: str, default: bool = False) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ConfigError(f"{name}={raw!r} is not a boolean (use true/false)")


def _in_range(name: str, raw: str, value: float, minimum: float | None, maximum: float | None) -> None:
    if minimum is not None and value < minimum:
        raise ConfigError(f"{name}={raw!r} is below the minimum {minimum}")
    if maximum is not None and value > maximum:
        raise ConfigError(f"{name}={raw!r} is above the maximum {maximum}")


def envint(name: str, default: int, *, minimum: int | None = None, maximum: int | None = None) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise ConfigError(f"{name}={raw!r} is not an integer") from exc
    _in_range(name, raw, value, minimum, maximum)
    return value


def envfloat(name: str, default: float, *, minimum: float | None = None, maximum: float | None = None) -> float:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError as exc:
        raise ConfigError(f"{name}={raw!r} is not a number") from exc
    if not math.isfinite(value):
        raise ConfigError(f"{name}={raw!r} is not a finite number")
    _in_range(name, raw, value, minimum, maximum)
    return value


def envnetworks(name: str, default: str = "") -> list[str]:
    """A comma-separated list of addresses or networks (``10.0.0.0/8,192.0.2.7,2001:db8::/32``)."""
    raw = os.environ.get(name, default)
    try:
        return [str(ipaddress.ip_network(v.strip(), strict=False)) for v in raw.split(",") if v.strip()]
    except ValueError as exc:
        raise ConfigError(f"{name}={raw!r}: {exc}") from exc


def envchoice(name: str, default: str, choices: Sequence[str]) -> str:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    if raw not in choices:
        raise ConfigError(f"{name}={raw!r} is not one of {', '.join(choices)}")
    return raw


def envintmap(name: str, *, minimum: int = 1) -> dict[str, int]:
    """``name=seconds`` pairs, comma-separated (``escalate=2,retention=60``), each a positive integer."""
    raw = os.environ.get(name, "")
    result: dict[str, int] = {}
    for part in (p.strip() for p in raw.split(",")):
        if not part:
            continue
        key, sep, value = part.partition("=")
        if not sep or not key.strip() or not value.strip().isdigit() or int(value) < minimum:
            raise ConfigError(f"{name}={raw!r}: write name=seconds pairs such as escalate=2,retention=60")
        result[key.strip()] = int(value)
    return result


def envpeers(name: str) -> list[dict[str, str]]:
    """A JSON list of ``{"name", "url", "token"}`` objects (http(s) URLs), or empty."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return []
    try:
        value = json.loads(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} is not JSON ({exc})") from exc
    ok = isinstance(value, list) and all(
        isinstance(p, dict)
        and all(isinstance(p.get(k), str) and p.get(k) for k in ("name", "url", "token"))
        and urlparse(p["url"]).scheme in {"http", "https"}
        for p in value
    )
    if not ok:
        raise ConfigError(f'{name}: write [{{"name": "...", "url": "https://...", "token": "fz_..."}}, ...]')
    return [{"name": p["name"], "url": p["url"], "token": p["token"]} for p in value]


def parse_public_base_url(raw: str) -> str:
    """``https://host[:port]`` (no path, query or fragment), without a trailing slash; or ``""``."""
    raw = raw.strip()
    if not raw:
        return ""
    parsed = urlparse(raw)
    if parsed.scheme not in {"http", "https"} or not parsed.hostname:
        raise ConfigError(f"PUBLIC_BASE_URL={raw!r} must be an http(s) origin such as https://fangzhou.example.org")
    if parsed.path not in {"", "/"} or parsed.query or parsed.fragment or parsed.username:
        raise ConfigError(f"PUBLIC_BASE_URL={raw!r} must be an origin only (no path, query or user)")
    return f"{parsed.scheme}://{parsed.netloc}"


SUPPORTED_ENGINES = ("django.db.backends.sqlite3", "django.db.backends.postgresql")


def database_config(url: str, data_dir: Path) -> dict[str, Any]:
    """Django's ``DATABASES["default"]`` from ``DATABASE_URL``, parsed by dj-database-url.

    Every query option is kept (``?sslmode=verify-full&sslrootcert=...&connect_timeout=5`` go to
    the driver as ``OPTIONS``). An empty URL means SQLite in the data directory. PostgreSQL keeps
    its connections for a minute with health checks (``fangzhou.lib.postgresql``: Django's backend,
    whose check reads the socket instead of sending ``SELECT 1``); SQLite waits for the write lock
    (``transaction_mode=IMMEDIATE``, 20 s) unless the URL says otherwise.
    """
    if not url:
        url = f"sqlite:///{data_dir / 'fangzhou.sqlite3'}"
    try:
        config: dict[str, Any] = dict(dj_database_url.parse(url))
    except (ValueError, dj_database_url.UnknownSchemeError) as exc:
        raise ConfigError(f"DATABASE_URL cannot be read ({exc}); use sqlite:///PATH or postgres://...") from exc
    engine = config.get("ENGINE")
    if engine not in SUPPORTED_ENGINES:
        scheme = urlparse(url).scheme
        raise ConfigError(f"DATABASE_URL scheme {scheme!r} is not supported (use sqlite:// or postgres://)")
    options: dict[str, Any] = dict(config.get("OPTIONS") or {})
    if engine == "django.db.backends.postgresql":
        if not config.get("NAME"):
            raise ConfigError("DATABASE_URL names no database: postgres://user@host:5432/NAME")
        # Django's backend, with a health check that costs no round trip (lib/postgresql/base.py).
        config.update(
            ENGINE="fangzhou.lib.postgresql",
            CONN_MAX_AGE=60,
            CONN_HEALTH_CHECKS=True,
            TEST={"NAME": f"test_{config['NAME']}"},
        )
    else:
        if not config.get("NAME"):
            config["NAME"] = str(data_dir / "fangzhou.sqlite3")
        options = {"timeout": 20, "transaction_mode": "IMMEDIATE", **options}
    if options:
        config["OPTIONS"] = options
    return config
