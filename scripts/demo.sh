#!/usr/bin/env bash
# Set up everything and run the demo: SQLite in ./var, a generated community, http://127.0.0.1:8000
# Extra arguments go to `fangzhou demo` (e.g. --size large, --no-serve, --port 8080).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/bootstrap.sh"
cd "$ROOT"
exec "$VENV/bin/fangzhou" demo "$@"
