#!/usr/bin/env bash
# Shared set-up for scripts/demo.sh and scripts/test.sh: system packages, the virtual environment,
# Python packages from the lock files (runtime for the demo, dev for the tests; scripts/lock.sh makes them).
# Safe to run again: each step checks first and does only what is missing.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"

log() { printf '\033[1;34m[fangzhou]\033[0m %s\n' "$*" >&2; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null 2>&1; then sudo "$@"; else
    log "need root (or sudo) to run: $*"; return 1; fi
}

apt_updated=0
ensure_debs() {
  local missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if ! command -v apt-get >/dev/null 2>&1; then
    log "please install these system packages: ${missing[*]}"; return 1
  fi
  log "installing system packages: ${missing[*]}"
  if [ "$apt_updated" -eq 0 ]; then as_root apt-get update -qq; apt_updated=1; fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

find_python() {
  for candidate in python3.11 python3; do
    if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] < (3, 11))'; then
      echo "$candidate"; return 0
    fi
  done
  log "Python 3.11 or newer is needed"; return 1
}

# The digest of what a profile installs: its lock file and pyproject.toml (entry points, the package itself).
lock_digest() { cat "$ROOT/requirements/$1.lock" "$ROOT/pyproject.toml" | sha256sum | cut -d' ' -f1; }
stamp_current() { [ -f "$VENV/.fangzhou-installed-$1" ] && [ "$(cat "$VENV/.fangzhou-installed-$1")" = "$(lock_digest "$1")" ]; }

# ensure_venv runtime|dev: the locked packages (requirements/<profile>.lock, every file checked against its
# hash), then fangzhou itself without dependencies. dev is runtime plus the test and lint tools.
ensure_venv() {
  local profile="${1:-runtime}" python
  python="$(find_python)"
  if ! "$python" -c 'import venv, ensurepip' >/dev/null 2>&1; then
    ensure_debs python3-venv "$(basename "$python")-venv" || ensure_debs python3-venv
  fi
  [ -x "$VENV/bin/python" ] || { log "creating $VENV"; "$python" -m venv "$VENV"; }
  if stamp_current "$profile" || { [ "$profile" = runtime ] && stamp_current dev; }; then
    return 0
  fi
  log "installing Python packages from requirements/$profile.lock (first run takes a few minutes)"
  "$VENV/bin/pip" install -q --disable-pip-version-check --upgrade pip >/dev/null 2>&1 || true
  "$VENV/bin/pip" install -q --disable-pip-version-check --require-hashes -r "$ROOT/requirements/$profile.lock"
  "$VENV/bin/pip" install -q --disable-pip-version-check --no-deps -e "$ROOT"
  lock_digest "$profile" > "$VENV/.fangzhou-installed-$profile"
}

# Pango for WeasyPrint PDFs and CJK fonts so that printed lists and posters show Chinese.
ensure_debs libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz0b fonts-noto-cjk
ensure_venv "${FANGZHOU_INSTALL:-runtime}"  # scripts/test.sh sets FANGZHOU_INSTALL=dev
