"""The layering of the apps is enforced: every import points down, even one inside a function body."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LINT = Path(sys.executable).with_name("lint-imports")


def _lint(tree: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    return subprocess.run(
        [str(LINT), "--config", str(tree / "pyproject.toml"), "--no-cache"],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _copy(tmp_path: Path) -> Path:
    tree = tmp_path / "tree"
    shutil.copytree(
        ROOT / "fangzhou", tree / "fangzhou", ignore=shutil.ignore_patterns("__pycache__", "static", "locale")
    )
    shutil.copy(ROOT / "pyproject.toml", tree / "pyproject.toml")
    return tree


def test_the_code_keeps_its_layers() -> None:
    result = _lint(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_a_reverse_import_inside_a_function_breaks_the_contract(tmp_path: Path) -> None:
    tree = _copy(tmp_path)
    selectors = tree / "fangzhou" / "registry" / "selectors.py"
    selectors.write_text(
        selectors.read_text()
        + "\n\ndef _sneaky() -> object:\n    from fangzhou.care.selectors import at_risk_next_48h\n\n"
        "    return at_risk_next_48h\n"
    )
    result = _lint(tree)
    assert result.returncode != 0
    assert "fangzhou.registry.selectors -> fangzhou.care.selectors" in result.stdout


def test_a_pure_core_that_imports_django_breaks_the_contract(tmp_path: Path) -> None:
    tree = _copy(tmp_path)
    core = tree / "fangzhou" / "zones" / "core.py"
    core.write_text(
        core.read_text()
        + "\n\ndef _now() -> object:\n    from django.utils import timezone\n\n    return timezone.now()\n"
    )
    result = _lint(tree)
    assert result.returncode != 0
    assert "Pure cores import neither Django nor any app BROKEN" in result.stdout


def test_a_new_app_must_be_placed_in_a_layer(tmp_path: Path) -> None:
    tree = _copy(tmp_path)
    (tree / "fangzhou" / "newapp").mkdir()
    (tree / "fangzhou" / "newapp" / "__init__.py").write_text("")
    result = _lint(tree)
    assert result.returncode != 0
    assert "newapp" in result.stdout
