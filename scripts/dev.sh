#!/usr/bin/env bash
# Runs GoSight on this machine: starts the local engines (scripts/services.sh), builds the
# `gosight` binary and the dashboard, creates topics and applies migrations, then runs the ingest,
# processor, API (serving the dashboard) and alerting components until Ctrl-C.
#
#   bash scripts/dev.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/gosight/target}"
bash scripts/services.sh start
eval "$(bash scripts/services.sh env)"
export GOSIGHT_LOG__FORMAT="${GOSIGHT_LOG__FORMAT:-pretty}"

cargo build --release --locked -p gosight
bin="$CARGO_TARGET_DIR/release/gosight"
# The dashboard the API serves at / (dashboard/dist).
(cd dashboard && npm ci --no-audit --no-fund --silent && npm run build --silent)
"$bin" migrate

pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM
for component in ingest processor api alerts; do
  "$bin" "$component" &
  pids+=("$!")
done

cat <<EOT

GoSight is running:
  ingest     http://127.0.0.1:8081   (POST /v1/events, /v1/replay; /health, /ready, /metrics)
             grpc 127.0.0.1:50051
  processor  http://127.0.0.1:8083/health   (writes to ClickHouse database "gosight")
  dashboard  http://127.0.0.1:8082/   (the API serves it; /api/v1/..., /api/openapi.json)
  api        http://127.0.0.1:8082/health
  alerts     http://127.0.0.1:8084/health
Engines: $KAFKA_BROKERS (Kafka), $CLICKHOUSE_URL (ClickHouse), PostgreSQL and Redis on 127.0.0.1.
Create a user and a project key: $bin user create --email you@example.com --password-stdin --role admin
                                  $bin project create --name Shop --owner you@example.com
Ctrl-C stops the components; 'bash scripts/services.sh stop' stops the engines.
EOT
wait -n "${pids[@]}"
