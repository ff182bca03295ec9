#!/usr/bin/env bash
# End to end on this machine: the load generator → ingest → broker → processor → ClickHouse, at a
# fixed rate. Reports what was acknowledged, what became queryable, the sustained rate at which
# rows arrived, and event-to-queryable latency (ClickHouse's insert time minus the ingest's
# receive time, per event).
#
#   bash scripts/bench_e2e.sh [EVENTS_PER_S] [SECONDS]      # default 30000 30
#
# BENCH_DRAIN=1: the processor starts only once the load generator is done, so the figure is how
# fast one shard drains a backlog with the machine to itself (the broker and ClickHouse beside it).
# BENCH_GOSIGHT=PATH: another `gosight` binary (e.g. an earlier build, to compare).
#
# Uses its own ClickHouse database, Kafka broker (a fresh log), topics and consumer group, dropped
# afterwards.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
rate=${1:-30000} secs=${2:-30}
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/gosight/target}"
bash scripts/services.sh start >/dev/null
eval "$(bash scripts/services.sh env)"
cargo build --release --locked -q -p gosight -p gosight-loadgen
B=$CARGO_TARGET_DIR/release
G=${BENCH_GOSIGHT:-$B/gosight}
drain=${BENCH_DRAIN:-0}

run="e2e_$(date +%s)"
export GOSIGHT_CLICKHOUSE__DATABASE=$run GOSIGHT_PROCESSOR__GROUP_ID=$run GOSIGHT_LOG__LEVEL=warn
for t in events_raw replay_chunks events_errors insights; do
  export "GOSIGHT_KAFKA__TOPICS__${t^^}=$run.$t"
done
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  curl -s "$CLICKHOUSE_URL/" --data-binary "DROP DATABASE IF EXISTS $run" >/dev/null || true
  private_broker_cleanup
}
trap cleanup EXIT
# A broker of its own on a fresh log (BENCH_SHARED_BROKER=1: the development broker instead).
# shellcheck source=lib/bench.sh
source scripts/lib/bench.sh
[ "${BENCH_SHARED_BROKER:-0}" = 1 ] || private_broker "$run"
"$G" migrate >/dev/null
bench_project "$G" "$run"

start_processor() {
  "$G" processor & pids+=("$!")
  until curl -sf localhost:8083/ready >/dev/null; do sleep 0.2; done
}
"$G" ingest & pids+=("$!")
until curl -sf localhost:8081/ready >/dev/null; do sleep 0.2; done
[ "$drain" = 1 ] || start_processor

"$B/gosight-loadgen" --key "$key" --rate "$rate" --duration "$secs" --concurrency 256
[ "$drain" = 0 ] || start_processor
q() { curl -s "$CLICKHOUSE_URL/?database=$run" --data-binary "$1"; }
# Wait until every acknowledged event is queryable (the count stops growing).
last=-1 waited=0
while :; do
  sleep 2
  waited=$((waited + 2))
  [ "$waited" -lt 900 ] || { echo "nothing more became queryable in 900 s" >&2; break; }
  now=$(q "SELECT count() FROM events FINAL WHERE project_id = '$project'")
  [ "$now" = "$last" ] && [ "$now" != 0 ] && break
  last=$now
done
q "SELECT
     count() AS queryable,
     round(count() / greatest(dateDiff('millisecond', min(inserted_at), max(inserted_at)) / 1000, 0.001)) AS rows_per_s,
     arrayMap(x -> round(x), quantiles(0.5, 0.99, 0.999)(dateDiff('millisecond', received_at, inserted_at))) AS latency_ms_p50_p99_p999,
     max(dateDiff('millisecond', received_at, inserted_at)) AS latency_ms_max
   FROM (SELECT * FROM events WHERE project_id = '$project' LIMIT 1 BY event_id)
   FORMAT Vertical"
# Where the processor's time went: seconds per round phase and per table insert, and how many
# messages and events it read.
curl -s localhost:8083/metrics | grep -E '^gosight_processor_(round_seconds_(sum|count)|insert_seconds_sum|messages_total|events_read_total)' || true
