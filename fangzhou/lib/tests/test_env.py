"""DATABASE_URL and PUBLIC_BASE_URL as an operator writes them."""

from __future__ import annotations

from pathlib import Path

import pytest

from fangzhou.lib.env import ConfigError, database_config, envmap, parse_public_base_url

DATA = Path("/srv/fangzhou")


class TestDatabaseConfig:
    def test_postgres_keeps_every_option(self) -> None:
        config = database_config(
            "postgres://fz:p%40ss@db.internal:6432/fangzhou"
            "?sslmode=verify-full&sslrootcert=/etc/ssl/district-ca.pem&connect_timeout=5&application_name=fz-web",
            DATA,
        )
        assert config["ENGINE"] == "fangzhou.lib.postgresql"
        assert (config["NAME"], config["USER"], config["PASSWORD"]) == ("fangzhou", "fz", "p@ss")
        assert (config["HOST"], str(config["PORT"])) == ("db.internal", "6432")
        assert config["OPTIONS"] == {
            "sslmode": "verify-full",
            "sslrootcert": "/etc/ssl/district-ca.pem",
            "connect_timeout": 5,
            "application_name": "fz-web",
        }
        assert config["CONN_MAX_AGE"] == 60 and config["CONN_HEALTH_CHECKS"] is True
        assert config["TEST"] == {"NAME": "test_fangzhou"}

    def test_postgres_unix_socket_and_scheme_aliases(self) -> None:
        for scheme in ("postgres", "postgresql", "pgsql"):
            config = database_config(f"{scheme}:///fangzhou?host=/var/run/postgresql", DATA)
            assert config["ENGINE"] == "fangzhou.lib.postgresql"
            assert config["OPTIONS"] == {"host": "/var/run/postgresql"}

    def test_sqlite_defaults_and_overrides(self) -> None:
        default = database_config("", DATA)
        assert default["NAME"] == str(DATA / "fangzhou.sqlite3")
        assert default["OPTIONS"] == {"timeout": 20, "transaction_mode": "IMMEDIATE"}
        assert database_config("sqlite:////abs/fz.sqlite3", DATA)["NAME"] == "/abs/fz.sqlite3"
        assert database_config("sqlite:///var/fz.sqlite3", DATA)["NAME"] == "var/fz.sqlite3"
        assert database_config("sqlite:///var/fz.sqlite3?timeout=60", DATA)["OPTIONS"]["timeout"] == 60

    @pytest.mark.parametrize(
        "url", ["mysql://u@h/db", "oracle://u@h/db", "redis://h:6379/0", "postgres://user@host:5432/"]
    )
    def test_refused_loudly(self, url: str) -> None:
        with pytest.raises(ConfigError):
            database_config(url, DATA)


class TestPublicBaseUrl:
    def test_origin_kept_without_trailing_slash(self) -> None:
        assert parse_public_base_url("https://fz.example.org/") == "https://fz.example.org"
        assert parse_public_base_url(" http://10.1.2.3:8080 ") == "http://10.1.2.3:8080"
        assert parse_public_base_url("") == ""

    @pytest.mark.parametrize(
        "raw", ["fz.example.org", "ftp://fz.example.org", "https://fz.example.org/p/", "https://a@fz.example.org"]
    )
    def test_refused_loudly(self, raw: str) -> None:
        with pytest.raises(ConfigError):
            parse_public_base_url(raw)


def test_a_map_of_sms_templates_reads_and_a_bad_one_stops_start_up(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TENCENT_SMS_TEMPLATES", " pool_positive=1234567, default=7654321 ,")
    assert envmap("TENCENT_SMS_TEMPLATES") == {"pool_positive": "1234567", "default": "7654321"}
    monkeypatch.setenv("TENCENT_SMS_TEMPLATES", "pool_positive:1234567")
    with pytest.raises(ConfigError, match="TENCENT_SMS_TEMPLATES"):
        envmap("TENCENT_SMS_TEMPLATES")
