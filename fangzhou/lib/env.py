"""Small typed helpers that read settings from the environment and fail loudly on bad values."""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse


class ConfigError(RuntimeError):
    pass


def envstr(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


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


def envint(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ConfigError(f"{name}={raw!r} is not an integer") from exc


def envnetworks(name: str) -> list[str]:
    """A comma-separated list of addresses or networks (``10.0.0.0/8,192.0.2.7,2001:db8::/32``)."""
    raw = os.environ.get(name, "")
    try:
        return [str(ipaddress.ip_network(v.strip(), strict=False)) for v in raw.split(",") if v.strip()]
    except ValueError as exc:
        raise ConfigError(f"{name}={raw!r}: {exc}") from exc


@dataclass(frozen=True)
class DatabaseURL:
    engine: str
    name: str
    user: str = ""
    password: str = ""
    host: str = ""
    port: str = ""

    def as_django(self) -> dict[str, object]:
        config: dict[str, object] = {"ENGINE": self.engine, "NAME": self.name}
        if self.engine.endswith("postgresql"):
            config.update(
                USER=self.user,
                PASSWORD=self.password,
                HOST=self.host,
                PORT=self.port,
                CONN_MAX_AGE=60,
                CONN_HEALTH_CHECKS=True,
                TEST={"NAME": f"test_{self.name}"},
            )
        else:
            config["OPTIONS"] = {"timeout": 20, "transaction_mode": "IMMEDIATE"}
        return config


def parse_database_url(url: str, data_dir: Path) -> DatabaseURL:
    """Turn ``sqlite:///path`` or ``postgres://user:pw@host:port/name`` into Django settings."""
    if not url:
        return DatabaseURL("django.db.backends.sqlite3", str(data_dir / "fangzhou.sqlite3"))
    parsed = urlparse(url)
    if parsed.scheme == "sqlite":
        path = unquote(parsed.path)
        if url.startswith("sqlite:////"):
            name = path
        elif path.startswith("/"):
            name = path[1:] or str(data_dir / "fangzhou.sqlite3")
        else:
            name = path
        if name in {":memory:", ""}:
            name = ":memory:"
        return DatabaseURL("django.db.backends.sqlite3", name)
    if parsed.scheme in {"postgres", "postgresql", "pgsql"}:
        name = unquote(parsed.path.lstrip("/"))
        if not name:
            raise ConfigError("DATABASE_URL names no database: postgres://user@host:5432/NAME")
        return DatabaseURL(
            "django.db.backends.postgresql",
            name,
            user=unquote(parsed.username or ""),
            password=unquote(parsed.password or ""),
            host=parsed.hostname or "",
            port=str(parsed.port or ""),
        )
    raise ConfigError(f"DATABASE_URL scheme {parsed.scheme!r} is not supported (use sqlite:// or postgres://)")
