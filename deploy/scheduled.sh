#!/usr/bin/env bash
# The scheduled commands, by name (deploy/systemd/fangzhou-scheduled@.service runs `scheduled.sh NAME`).
# Until one schedule for all communities lands in the app (issue 15), the per-community end-of-day
# commands run here once per community.
set -euo pipefail
FZ="${FANGZHOU_BIN:-/opt/fangzhou/.venv/bin/fangzhou}"
communities() {
  "$FZ" manage shell -c 'from fangzhou.registry.models import Community
for code in Community.objects.order_by("code").values_list("code", flat=True): print(code)'
}
case "${1:?usage: scheduled.sh escalate|escorts|end-of-day|backup}" in
  escalate) exec "$FZ" orders escalate ;;
  escorts) exec "$FZ" care escorts ;;
  end-of-day)
    status=0
    for code in $(communities); do
      "$FZ" care checkins-close --community "$code" || status=1
      "$FZ" supplies sweep --community "$code" || status=1
    done
    exit "$status" ;;
  backup)
    dir="${FANGZHOU_DATA_DIR:-/var/lib/fangzhou}/backups"
    mkdir -p "$dir"
    "$FZ" backup -o "$dir/fangzhou-$(date -u +%Y%m%dT%H%M%SZ).tar.gz"
    # keep two weeks on this machine; copy them off it too (see docs/deploy.md)
    find "$dir" -name 'fangzhou-*.tar.gz' -mtime +14 -delete ;;
  *) echo "unknown job: $1" >&2; exit 2 ;;
esac
