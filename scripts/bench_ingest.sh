#!/usr/bin/env bash
# One ingest process under the load generator: the ingest pinned to core 0 with one HTTP worker,
# the load generator and a private broker (fresh log on tmpfs, scripts/lib/bench.sh) on core 1.
# Prints the load generator's report and the ingest's CPU time per acknowledged event
# (user+system time from /proc/PID/stat over the run, divided by the events acknowledged), and,
# from the ingest's own histograms, the share of requests over 10 ms in the ingest next to the
# share of broker acknowledgements over 10 ms (where a latency tail comes from).
#
#   bash scripts/bench_ingest.sh [LOADGEN ARGS...]
#   bash scripts/bench_ingest.sh --protocol http-protobuf --rate 0 --concurrency 128 --duration 15
#   bash scripts/bench_ingest.sh --protocol http-protobuf --rate 10000 --concurrency 256 --duration 20
#
# BENCH_PIN=0 leaves every process free to run on either core (a latency run at a fixed rate,
# where the one-core bound is not the question); BENCH_LOADGEN_CORE=0 puts the load generator
# beside the ingest instead of beside the broker.
#
# Several runs: RUNS="--protocol http-json --rate 0;--protocol grpc --rate 0" bash scripts/bench_ingest.sh
# (each against the same broker, in order). PostgreSQL and Redis come from scripts/services.sh.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/gosight/target}"
bash scripts/services.sh start >/dev/null
eval "$(bash scripts/services.sh env)"
cargo build --release --locked -q -p gosight -p gosight-loadgen
B=$CARGO_TARGET_DIR/release

# shellcheck source=lib/bench.sh
source scripts/lib/bench.sh
run="ingest_$(date +%s)"
core0=(taskset -c 0) core1=(taskset -c 1) loadgen_core=(taskset -c "${BENCH_LOADGEN_CORE:-1}")
if [ "${BENCH_PIN:-1}" = 0 ]; then core0=() core1=() loadgen_core=(); fi
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  private_broker_cleanup
}
trap cleanup EXIT

private_broker "$run" "${core1[@]}"
export GOSIGHT_LOG__LEVEL=warn GOSIGHT_INGEST__WORKERS=1
"$B/gosight" migrate >/dev/null
bench_project "$B/gosight" "$run"

"${core0[@]}" "$B/gosight" ingest & ingest=$!
pids+=("$ingest")
until curl -sf localhost:8081/ready >/dev/null; do sleep 0.2; done

ticks() { awk '{print $14 + $15}' "/proc/$ingest/stat"; }
# Handled requests and broker acknowledgements (one per request), and how many of each took over
# 10 ms, from the ingest's own histograms: "<requests> <slow requests> <acks> <slow acks>".
tail_counts() {
  curl -sf localhost:8081/metrics | awk '
    /^gosight_ingest_request_duration_seconds_count/ { r += $NF }
    /^gosight_ingest_request_duration_seconds_bucket/ && /le="0.01"/ { rf += $NF }
    /^gosight_ingest_produce_duration_seconds_count/ { p += $NF }
    /^gosight_ingest_produce_duration_seconds_bucket/ && /le="0.01"/ { pf += $NF }
    END { printf "%d %d %d %d\n", r, r - rf, p, p - pf }'
}
hz=$(getconf CLK_TCK)
IFS=';' read -r -a runs <<<"${RUNS:-$*}"
for args in "${runs[@]}"; do
  echo "== loadgen $args"
  before=$(ticks) tails_before=$(tail_counts)
  # shellcheck disable=SC2086
  out=$("${loadgen_core[@]}" "$B/gosight-loadgen" --key "$key" $args)
  after=$(ticks) tails_after=$(tail_counts)
  echo "$out"
  read -r r0 rs0 p0 ps0 <<<"$tails_before"
  read -r r1 rs1 p1 ps1 <<<"$tails_after"
  if [ $((r1 - r0)) -gt 0 ] && [ $((p1 - p0)) -gt 0 ]; then
    awk -v r=$((r1 - r0)) -v rs=$((rs1 - rs0)) -v p=$((p1 - p0)) -v ps=$((ps1 - ps0)) \
      'BEGIN { printf "over 10 ms inside the ingest: %.2f %% of requests; waiting for the broker alone: %.2f %% of acknowledgements\n", 100 * rs / r, 100 * ps / p }'
  fi
  ok=$(sed -n 's/.*events_ok=\([0-9]*\).*/\1/p' <<<"$out" | head -1)
  if [ -n "$ok" ] && [ "$ok" -gt 0 ]; then
    awk -v t=$((after - before)) -v hz="$hz" -v ok="$ok" \
      'BEGIN { printf "ingest cpu: %.2f s, %.1f us per event\n", t / hz, t / hz / ok * 1e6 }'
  fi
done
