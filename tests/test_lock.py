"""The lock files cover pyproject.toml: a dependency added without `scripts/lock.sh` fails here, not on a server."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)", re.MULTILINE)


def pins(lock: str) -> dict[str, str]:
    text = (ROOT / "requirements" / lock).read_text()
    assert "--hash=sha256:" in text, f"{lock} has no hashes"
    return {canonicalize_name(name): version for name, version in PIN.findall(text)}


def declared() -> tuple[list[Requirement], list[Requirement]]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    runtime = [Requirement(r) for r in project["dependencies"]]
    dev = [Requirement(r) for r in project["optional-dependencies"]["dev"]]
    return runtime, dev


@pytest.mark.parametrize(("lock", "which"), [("runtime.lock", "runtime"), ("dev.lock", "dev")])
def test_every_declared_dependency_is_pinned_within_its_range(lock: str, which: str) -> None:
    runtime, dev = declared()
    locked = pins(lock)
    wanted = runtime + (dev if which == "dev" else [])
    stale = [
        f"{req} (locked: {locked.get(canonicalize_name(req.name), 'missing')})"
        for req in wanted
        if canonicalize_name(req.name) not in locked
        or not req.specifier.contains(locked[canonicalize_name(req.name)], prereleases=True)
    ]
    assert not stale, f"requirements/{lock} is stale, run scripts/lock.sh: {stale}"


def test_runtime_and_dev_agree_on_every_shared_pin() -> None:
    runtime, dev = pins("runtime.lock"), pins("dev.lock")
    differ = {name: (version, dev.get(name)) for name, version in runtime.items() if dev.get(name) != version}
    assert not differ, f"run scripts/lock.sh: {differ}"
    assert "pytest" not in runtime and "pytest" in dev
