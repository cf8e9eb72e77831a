#!/usr/bin/env bash
# Regenerate the lock files from pyproject.toml: requirements/runtime.lock (what the server and the demo
# install) and requirements/dev.lock (that, plus the test and lint tools, with the same runtime pins).
# Every pin carries its hashes; scripts/bootstrap.sh installs them with `pip install --require-hashes`.
#
#   scripts/lock.sh                          # after editing pyproject.toml: add what is new, keep every other pin
#   scripts/lock.sh --upgrade-package NAME   # move one package to its newest allowed release
#   scripts/lock.sh --upgrade                # move everything
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
UV="${UV:-}"
if [ -z "$UV" ]; then
  if [ -x "$ROOT/.venv/bin/uv" ]; then UV="$ROOT/.venv/bin/uv"; else UV="$(command -v uv || true)"; fi
fi
[ -n "$UV" ] || { echo "uv not found: run scripts/test.sh once (it installs the dev tools), or pip install uv" >&2; exit 1; }

# Resolved for every platform (--universal) and Python from 3.11 on, so the same file serves a laptop and a server.
common=(--universal --python-version 3.11 --generate-hashes --quiet --custom-compile-command "scripts/lock.sh")
"$UV" pip compile pyproject.toml "${common[@]}" -o requirements/runtime.lock "$@"
"$UV" pip compile pyproject.toml --extra dev -c requirements/runtime.lock "${common[@]}" -o requirements/dev.lock "$@"
echo "wrote requirements/runtime.lock and requirements/dev.lock" >&2
