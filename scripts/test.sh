#!/usr/bin/env bash
# Set up everything and run the whole suite: lint, types, tests on SQLite (with headless Chromium
# browser tests) and on PostgreSQL (with real concurrent connections).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
FANGZHOU_INSTALL=dev  # the test and lint tools on top of the runtime packages
source "$ROOT/scripts/bootstrap.sh"
cd "$ROOT"

ensure_debs chromium
export FANGZHOU_CHROMIUM="${FANGZHOU_CHROMIUM:-$(command -v chromium || echo /usr/bin/chromium)}"

# pg_dump / pg_restore for the backup round trip, also when the server is elsewhere (DATABASE_URL_PG).
ensure_debs postgresql-client
# nginx for the production-stack test (it starts its own, on a free port; the package's own service is not used).
ensure_debs nginx
# PostgreSQL: use DATABASE_URL_PG if given; otherwise a local server, installed and started if needed.
pg_ready() { pg_isready -q -h 127.0.0.1 -p 5432 >/dev/null 2>&1; }
if [ -z "${DATABASE_URL_PG:-}" ]; then
  ensure_debs postgresql postgresql-client
  if ! pg_ready; then
    log "starting PostgreSQL"
    for version in $(ls /etc/postgresql 2>/dev/null); do
      as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start 2>/dev/null || \
        as_root pg_ctlcluster "$version" main start || true
    done
    for _ in $(seq 1 30); do pg_ready && break; sleep 1; done
  fi
  pg_ready || { log "PostgreSQL is not running on 127.0.0.1:5432"; exit 1; }
  # A role for the tests (idempotent). Trust auth is used if the server allows it; otherwise the password.
  sql="DO \$\$BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname='fangzhou') THEN CREATE ROLE fangzhou LOGIN SUPERUSER PASSWORD 'fangzhou'; END IF; END\$\$;"
  psql -q -h 127.0.0.1 -U postgres -d postgres -c "$sql" >/dev/null 2>&1 || \
    as_root runuser -u postgres -- psql -q -d postgres -c "$sql" >/dev/null
  DATABASE_URL_PG="postgres://fangzhou:fangzhou@127.0.0.1:5432/fangzhou"
fi

# Redis for the Celery worker test (background jobs at scale).
if ! (exec 3<>/dev/tcp/127.0.0.1/6379) 2>/dev/null; then
  ensure_debs redis-server
  log "starting Redis"
  as_root redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no >/dev/null
  for _ in $(seq 1 20); do (exec 3<>/dev/tcp/127.0.0.1/6379) 2>/dev/null && break; sleep 0.5; done
fi

log "ruff"
"$VENV/bin/ruff" check fangzhou bench tests
"$VENV/bin/ruff" format --check fangzhou bench tests
log "import layers (import-linter: every import points down, even inside a function)"
"$VENV/bin/lint-imports"
log "mypy"
"$VENV/bin/mypy" fangzhou
export FANGZHOU_DATA_DIR="$ROOT/var/test"
mkdir -p "$FANGZHOU_DATA_DIR"

# The static JavaScript's unit tests (js/: Vitest in jsdom), only where Node is installed.
if command -v npm >/dev/null 2>&1; then
  log "JavaScript unit tests (Vitest)"
  (cd "$ROOT/js" && npm ci --no-audit --no-fund --loglevel=error && npx vitest run)
else
  log "JavaScript unit tests skipped: Node/npm is not installed"
fi

log "tests on SQLite, with browser tests in headless Chromium and the API fuzz (schemathesis)"
env -u DATABASE_URL "$VENV/bin/pytest" -q "$@"

log "tests on PostgreSQL"
DATABASE_URL="$DATABASE_URL_PG" "$VENV/bin/pytest" -q -m "not browser and not fuzz" "$@"
