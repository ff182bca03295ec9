#!/usr/bin/env bash
# Runs all of GoSight in one process with embedded storage: builds the dashboard and the SDK
# (npm), then `gosight standalone`. Arguments go to it, e.g.
#
#   bash scripts/standalone.sh --demo
#   bash scripts/standalone.sh --data-dir /var/lib/gosight --listen 0.0.0.0:8080
#
# Needs Node 20+ and Rust; nothing else runs beside it. Data stays in ./gosight-data unless
# --data-dir says otherwise.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/gosight/target}"
export GOSIGHT_LOG__FORMAT="${GOSIGHT_LOG__FORMAT:-pretty}"
for part in dashboard sdk; do
  if [ ! -d "$part/dist" ] || [ -n "$(find "$part/src" -newer "$part/dist" -print -quit)" ]; then
    (cd "$part" && npm ci --no-audit --no-fund --silent && npm run build --silent)
  fi
done
exec cargo run --release --locked -p gosight -- standalone "$@"
