"""The `fangzhou` command: JSON out, exit codes, and the same services underneath."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from fangzhou.cli import main
from fangzhou.registry.models import Resident
from fangzhou.registry.tests.test_services_roster import messy_rows, xlsx

pytestmark = pytest.mark.django_db


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, object]]:
    code = main(list(argv))
    out = capsys.readouterr().out.strip().splitlines()
    return code, json.loads(out[-1]) if out else {}


def test_community_create_then_import_and_export(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, created = run(
        capsys, "community", "create", "HX01", "--name", "华新居民区", "--subdistrict", "华新街道", "--json"
    )
    assert code == 0 and created["code"] == "HX01" and created["subdistrict"] == "华新街道"
    # Creating it again is a no-op, not an error.
    assert run(capsys, "community", "create", "HX01", "--name", "华新居民区", "--json")[0] == 0

    roster = tmp_path / "roster.xlsx"
    roster.write_bytes(xlsx(messy_rows()))
    code, preview = run(capsys, "roster", "import", str(roster), "--community", "HX01", "--json", "--dry-run")
    assert code == 0 and preview["created"] == 3 and not Resident.objects.exists()

    code, report = run(capsys, "roster", "import", str(roster), "--community", "HX01", "--json")
    assert code == 0
    assert (report["created"], report["updated"], report["unchanged"]) == (3, 0, 0)
    rejected = report["rejected"]
    assert isinstance(rejected, list) and {r["row"] for r in rejected} == {5, 7, 8, 9, 10, 11}
    assert all(set(r) >= {"row", "column", "reason"} for r in rejected)

    out = tmp_path / "export.xlsx"
    assert run(capsys, "roster", "export", "--community", "HX01", "-o", str(out), "--json")[0] == 0
    code, again = run(capsys, "roster", "import", str(out), "--community", "HX01", "--json")
    assert (again["created"], again["updated"], again["unchanged"], again["rejected"]) == (0, 0, 3, [])


def test_unreadable_file_and_unknown_community_exit_non_zero(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bogus = tmp_path / "photo.xlsx"
    bogus.write_bytes(b"\xff\xd8\xff\xe0 not a workbook")
    assert main(["community", "create", "C1", "--name", "一"]) == 0
    assert main(["roster", "import", str(bogus), "--community", "C1", "--json"]) == 2
    err = capsys.readouterr().err
    assert "not a valid Excel" in err or "cannot be read" in err or "only .xlsx" in err
    assert main(["roster", "import", str(bogus), "--community", "NOPE"]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["roster", "import", str(tmp_path / "missing.csv"), "--community", "C1"]) == 2
    assert main(["community", "create", "bad code!", "--name", "x"]) == 2


@pytest.mark.django_db(transaction=True)
def test_production_settings_pass_the_deploy_check(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "FANGZHOU_ENV": "production",
        "SECRET_KEY": "k" * 20 + "-production-secret-9f8e7d6c5b4a3f2e1d0c",
        "ALLOWED_HOSTS": "fangzhou.example.org",
        "PUBLIC_BASE_URL": "https://fangzhou.example.org",
        "FANGZHOU_DATA_DIR": str(tmp_path),
        "DJANGO_SETTINGS_MODULE": "fangzhou.settings",
    }
    env.pop("DEBUG", None)
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)  # set by the browser tests in this process
    result = subprocess.run(
        [sys.executable, "-m", "fangzhou", "manage", "check", "--deploy", "--fail-level", "WARNING"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout
