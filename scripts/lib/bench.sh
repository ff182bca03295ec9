# Sourced by the benchmark scripts, after `scripts/services.sh env` is evaluated.

# Starts a Kafka-protocol broker of its own on a fresh log (tmpfs where the machine has one), so
# a run does not depend on what earlier tests left in the development broker, and exports
# KAFKA_BROKERS for it. Needs NOIDA_DB_BIN and a `pids` array the caller kills on exit;
# private_broker_cleanup removes the log.
#
#   private_broker RUN_NAME [taskset args...]
private_broker() {
  local name=$1
  shift
  local shm=/dev/shm
  [ -d "$shm" ] || shm=${TMPDIR:-/tmp}
  broker_dir="$shm/gosight-bench-$name"
  local port=${BENCH_KAFKA_PORT:-19092}
  mkdir -p "$broker_dir"
  "$@" "$NOIDA_DB_BIN" start --only kafka --host 127.0.0.1 --kafka-port "$port" \
    --data-dir "$broker_dir" >"$broker_dir.log" 2>&1 &
  pids+=("$!")
  export KAFKA_BROKERS=127.0.0.1:$port
  local _
  for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
    sleep 0.1
  done
  echo "the private broker did not start; see $broker_dir.log" >&2
  return 1
}

private_broker_cleanup() {
  [ -n "${broker_dir:-}" ] && rm -rf "$broker_dir" "$broker_dir.log"
}

# Creates an admin and a project named RUN_NAME with the `gosight` binary GOSIGHT, lifts the
# project key's rate limit for the run, and sets `key` and `project`.
#
#   bench_project GOSIGHT RUN_NAME
bench_project() {
  local gosight=$1 name=$2 created
  echo "$name-bench-password" | "$gosight" user create --email "$name@example.com" \
    --password-stdin --role admin >/dev/null
  created=$("$gosight" project create --name "$name" --owner "$name@example.com" 2>/dev/null)
  key=$(sed -n 's/^write_key: //p' <<<"$created")
  project=$(sed -n 's/^project_id: //p' <<<"$created")
  psql "$DATABASE_URL" -qc "UPDATE api_keys SET rate_limit = 10000000, rate_burst = 10000000 WHERE project_id = '$project'"
}
