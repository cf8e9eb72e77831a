"""Settings are declared once in settings.py, read as ``settings.X``, and a bad value stops start-up."""

from __future__ import annotations

import ast
import os
import re
import runpy
import subprocess
import sys
from pathlib import Path

import pytest

import fangzhou
from fangzhou.supplies.models import Scaling

PACKAGE = Path(fangzhou.__file__).resolve().parent
SETTINGS = PACKAGE / "settings.py"
README = PACKAGE.parent / "README.md"


def _sources() -> list[Path]:
    return [
        path
        for path in sorted(PACKAGE.rglob("*.py"))
        if "migrations" not in path.parts and "tests" not in path.parts and path != SETTINGS
    ]


def _is_settings(node: ast.expr) -> bool:
    return (isinstance(node, ast.Name) and node.id == "settings") or (
        isinstance(node, ast.Attribute) and node.attr == "settings"
    )


def _is_environ(node: ast.expr) -> bool:
    return isinstance(node, ast.Attribute) and node.attr == "environ"


def _violations(source: str, name: str) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call):
            func = node.func
            if (
                isinstance(func, ast.Name)
                and func.id == "getattr"
                and len(node.args) >= 3
                and _is_settings(node.args[0])
            ):
                found.append(f"{name}:{node.lineno}: getattr(settings, …, default); declare it in settings.py")
            env_read = (
                isinstance(func, ast.Attribute) and func.attr in {"get", "setdefault"} and _is_environ(func.value)
            ) or (isinstance(func, ast.Attribute) and func.attr == "getenv")
            key = node.args[0] if node.args else None
            if env_read and isinstance(key, ast.Constant) and str(key.value).startswith("FANGZHOU_"):
                found.append(f"{name}:{node.lineno}: {key.value} read from the environment outside settings.py")
        if isinstance(node, ast.Subscript) and _is_environ(node.value):
            key = node.slice
            if isinstance(key, ast.Constant) and str(key.value).startswith("FANGZHOU_"):
                found.append(f"{name}:{node.lineno}: {key.value} read from the environment outside settings.py")
    return found


def test_the_scan_sees_each_kind_of_undeclared_read() -> None:
    sample = (
        "from django.conf import settings\nimport os\n"
        "a = getattr(settings, 'FANGZHOU_X', 3)\n"
        "b = os.environ.get('FANGZHOU_Y', '1')\n"
        "c = os.environ['FANGZHOU_Z']\n"
        "d = os.getenv('FANGZHOU_W')\n"
        "ok = settings.FANGZHOU_X\nalso_ok = getattr(settings, name)\nfine = os.environ.get('CI')\n"
    )
    assert [v.split(": ", 1)[0] for v in _violations(sample, "m.py")] == ["m.py:3", "m.py:4", "m.py:5", "m.py:6"]


def test_code_reads_only_declared_settings() -> None:
    found = [v for path in _sources() for v in _violations(path.read_text(), str(path.relative_to(PACKAGE)))]
    assert found == []


def _declared_tunables() -> list[str]:
    return re.findall(r"^(FANGZHOU_[A-Z0-9_]+) = env", SETTINGS.read_text(), flags=re.MULTILINE)


def test_every_tunable_is_in_the_readme_configuration_table() -> None:
    declared = _declared_tunables()
    assert len(declared) >= 16
    table = README.read_text().split("## Configuration", 1)[1].split("\n## ", 1)[0]
    assert [name for name in declared if f"`{name}`" not in table] == []


def test_defaults_are_what_the_code_expected_before() -> None:
    from django.conf import settings

    assert (settings.FANGZHOU_DISCHARGE_GAP_HOURS, settings.FANGZHOU_DISCHARGE_MIN_CT) == (24, 35.0)
    assert (settings.FANGZHOU_MONITORING_DAYS, settings.FANGZHOU_CONTACT_DAYS) == (7, 7)
    assert (settings.FANGZHOU_PUBLIC_RATE_PER_ADDRESS, settings.FANGZHOU_PUBLIC_RATE_PER_TOKEN) == (
        2000,
        4000,
    )  # sized for a 300-household building behind one NAT (issue 11)
    assert settings.FANGZHOU_ESCORT_LEAD_HOURS == 24
    assert settings.FANGZHOU_PACKAGE_SCALING == Scaling.PER_HOUSEHOLD
    assert (settings.FANGZHOU_ROUTE_TIME_LIMIT_S, settings.FANGZHOU_TRIP_TIME_LIMIT_S) == (10.0, 7200)
    assert settings.FANGZHOU_VOLUNTEER_TEST_HOURS == 48
    assert (settings.FANGZHOU_ESCALATE_COMMITTEE_MINUTES, settings.FANGZHOU_OVERLOAD_ORDERS) == (60, 5)
    assert settings.FANGZHOU_JOBS == "inline"


@pytest.mark.parametrize("value", Scaling.values)
def test_every_package_scaling_is_accepted(value: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("FANGZHOU_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("FANGZHOU_PACKAGE_SCALING", value)
    assert runpy.run_path(str(SETTINGS))["FANGZHOU_PACKAGE_SCALING"] == value


def test_a_good_value_from_the_environment_is_read(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("FANGZHOU_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("FANGZHOU_DISCHARGE_MIN_CT", "37.5")
    monkeypatch.setenv("FANGZHOU_OVERLOAD_ORDERS", "8")
    loaded = runpy.run_path(str(SETTINGS))
    assert (loaded["FANGZHOU_DISCHARGE_MIN_CT"], loaded["FANGZHOU_OVERLOAD_ORDERS"]) == (37.5, 8)


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("FANGZHOU_DISCHARGE_MIN_CT", "abc", "FANGZHOU_DISCHARGE_MIN_CT='abc' is not a number"),
        ("FANGZHOU_MONITORING_DAYS", "7d", "FANGZHOU_MONITORING_DAYS='7d' is not an integer"),
        ("FANGZHOU_OVERLOAD_ORDERS", "0", "FANGZHOU_OVERLOAD_ORDERS='0' is below the minimum 1"),
        (
            "FANGZHOU_PACKAGE_SCALING",
            "weekly",
            "FANGZHOU_PACKAGE_SCALING='weekly' is not one of per_household, by_size",
        ),
    ],
)
def test_a_bad_value_stops_settings_import(name: str, value: str, message: str, tmp_path: Path) -> None:
    env = {**os.environ, "FANGZHOU_DATA_DIR": str(tmp_path), name: value}
    result = subprocess.run(
        [sys.executable, "-c", "import fangzhou.settings"],
        env=env,
        cwd=PACKAGE.parent,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert "ConfigError" in result.stderr and message in result.stderr
