#!/usr/bin/env bash
# Standalone mode on this machine: time to ready on an existing data directory, idle RSS, then
# the load generator at a fixed rate against its single address, and how fast the events become
# queryable (rows in analytics.db) behind it.
#
#   bash scripts/bench_standalone.sh [EVENTS_PER_S] [SECONDS]      # default 10000 30
#
# Uses a fresh data directory under /tmp, removed afterwards.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
rate=${1:-10000} secs=${2:-30}
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/gosight/target}"
cargo build --release --locked -q -p gosight -p gosight-loadgen
B=$CARGO_TARGET_DIR/release
dir=$(mktemp -d /tmp/gosight-bench-XXXXXX)
port=18480
export GOSIGHT_LOG__LEVEL=warn
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$dir"; }
trap cleanup EXIT

start() {
  "$B/gosight" standalone --data-dir "$dir" --listen "127.0.0.1:$port" > "$dir/banner.txt" &
  pid=$!
}
ms() { date +%s%3N; }

# First start: creates the admin, the project and its key.
start
until curl -sf "localhost:$port/ready" >/dev/null; do sleep 0.05; done
key=$(grep -o 'projectKey: "[^"]*"' "$dir/banner.txt" | cut -d'"' -f2)
kill "$pid"; wait "$pid" || true
# No rate limit for the benchmark key.
python3 - "$dir/metadata.db" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.execute("UPDATE api_keys SET rate_limit = 10000000, rate_burst = 10000000")
db.commit()
PY

t0=$(ms); start
until curl -sf "localhost:$port/ready" >/dev/null; do sleep 0.01; done
echo "ready_ms=$(( $(ms) - t0 )) (restart on an existing data directory, to /ready answering 200)"
sleep 10
echo "idle_rss_mib=$(awk '/VmRSS/ {printf "%.1f", $2/1024}' "/proc/$pid/status")"

"$B/gosight-loadgen" --http "http://127.0.0.1:$port" --key "$key" --protocol http-protobuf \
  --rate "$rate" --duration "$secs" --concurrency 64 | tee "$dir/loadgen.txt"
acked=$(sed -n 's/.*events_ok=\([0-9]*\).*/\1/p' "$dir/loadgen.txt")
echo "peak_rss_mib=$(awk '/VmHWM/ {printf "%.1f", $2/1024}' "/proc/$pid/status")"
t_end=$(ms)
count() {
  python3 - "$dir/analytics.db" <<'PY'
import sqlite3, sys
db = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True)
print(db.execute("SELECT count(*) FROM events").fetchone()[0])
PY
}
while :; do
  stored=$(count)
  [ "$stored" -ge "$acked" ] && break
  [ $(( $(ms) - t_end )) -gt 120000 ] && break
  sleep 0.5
done
echo "acked=$acked stored=$stored drained_after_ms=$(( $(ms) - t_end )) (after the load generator stopped)"
echo "sustained_stored_per_s=$(( stored * 1000 / ( secs * 1000 + $(ms) - t_end ) ))"
