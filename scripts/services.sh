#!/usr/bin/env bash
# Install, start, stop the real engines GoSight's tests and local runs use, all on 127.0.0.1:
#   ClickHouse (chdb-core from PyPI), a Kafka-protocol broker (noida-db from PyPI),
#   PostgreSQL and Redis (Debian packages).
#
#   scripts/services.sh install   # idempotent; needs root (apt-get) for PostgreSQL and Redis
#   scripts/services.sh start     # idempotent; waits until every engine answers
#   scripts/services.sh stop
#   scripts/services.sh status
#   scripts/services.sh env       # prints the export lines for KAFKA_BROKERS, CLICKHOUSE_URL, ...
#
# State (venv, data, logs, pids) lives in $GOSIGHT_DEV_HOME (default ~/.cache/gosight-dev, or
# /var/cache/gosight-dev as root, where the postgres user can reach it), outside the clone, so a second run on the same machine reuses it.
set -euo pipefail

if [ "$(id -u)" = 0 ]; then DEFAULT_HOME=/var/cache/gosight-dev; else DEFAULT_HOME="$HOME/.cache/gosight-dev"; fi
HOME_DIR="${GOSIGHT_DEV_HOME:-$DEFAULT_HOME}"
VENV="$HOME_DIR/venv"
RUN="$HOME_DIR/run"
LOGS="$HOME_DIR/logs"
KAFKA_PORT="${GOSIGHT_DEV_KAFKA_PORT:-9092}"
CH_PORT="${GOSIGHT_DEV_CLICKHOUSE_PORT:-8123}"
PG_PORT="${GOSIGHT_DEV_POSTGRES_PORT:-5432}"
REDIS_PORT="${GOSIGHT_DEV_REDIS_PORT:-6379}"
SCRIPTS="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

log() { printf '[services] %s\n' "$*" >&2; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

pg_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }

install() {
  mkdir -p "$HOME_DIR" "$RUN" "$LOGS"
  local missing=()
  command -v redis-server >/dev/null || missing+=(redis-server)
  [ -n "$(pg_bin)" ] || missing+=(postgresql)
  command -v curl >/dev/null || missing+=(curl)
  # Browser tests (sdk/, dashboard/) drive Debian's Chromium.
  [ -x /usr/bin/chromium ] || missing+=(chromium chromium-driver)
  if [ "${#missing[@]}" -gt 0 ]; then
    log "installing Debian packages: ${missing[*]}"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
  if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
  fi
  if ! "$VENV/bin/python" -c 'import chdb, noida_db' 2>/dev/null; then
    log "installing chdb-core and noida-db from PyPI"
    "$VENV/bin/pip" install -q chdb-core==26.9.0 noida-db==0.2.3
  fi
  # MaxMind's official GeoIP test databases (MIT / Apache-2.0), shipped in maxminddb's sdist.
  if [ ! -s "$HOME_DIR/geoip/GeoIP2-City-Test.mmdb" ]; then
    log "fetching MaxMind's GeoIP test databases from PyPI"
    local tmp; tmp="$(mktemp -d)"
    "$VENV/bin/pip" download -q --no-deps --no-binary :all: -d "$tmp" maxminddb==3.2.0
    mkdir -p "$HOME_DIR/geoip"
    tar -xzf "$tmp"/maxminddb-3.2.0.tar.gz -C "$tmp"
    cp "$tmp"/maxminddb-3.2.0/tests/data/test-data/GeoIP2-City-Test.mmdb \
      "$tmp"/maxminddb-3.2.0/tests/data/test-data/GeoIP2-Country-Test.mmdb "$HOME_DIR/geoip/"
    rm -rf "$tmp"
  fi
}

wait_for() { # name, command...
  local name=$1; shift
  for _ in $(seq 1 120); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.5
  done
  log "$name did not come up; see $LOGS"
  tail -n 20 "$LOGS/$name.log" >&2 || true
  return 1
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

alive() { [ -f "$RUN/$1.pid" ] && kill -0 "$(cat "$RUN/$1.pid")" 2>/dev/null; }

# The broker's log lives in memory (tmpfs) where the machine has one, as Apache Kafka leaves
# flushing to the OS page cache by default (durability comes from replication): it survives a
# broker or client crash, not a reboot. The local broker syncs every write instead, which on a
# VM's disk puts tens of milliseconds into the tail of every acknowledgement (docs/benchmarks.md).
# GOSIGHT_DEV_KAFKA_DATA=DIR picks another place, e.g. one on disk.
kafka_data() {
  if [ -n "${GOSIGHT_DEV_KAFKA_DATA:-}" ]; then echo "$GOSIGHT_DEV_KAFKA_DATA"
  elif [ -d /dev/shm ] && [ -w /dev/shm ]; then echo "/dev/shm/gosight-dev-kafka-$(id -u)"
  else echo "$HOME_DIR/kafka"; fi
}

start_kafka() {
  if port_open "$KAFKA_PORT"; then log "kafka already on :$KAFKA_PORT"; return; fi
  local bin
  bin="$(dirname "$("$VENV/bin/python" -c 'import noida_db; print(noida_db.__file__)')")/noida-db"
  local data; data="$(kafka_data)"
  # Tests make topics of their own and delete them, but the local broker keeps their log; once it
  # holds gigabytes it spins a core even with no client connected (docs/benchmarks.md). The
  # development log holds only test data, so past GOSIGHT_DEV_KAFKA_MAX_MB (default 1024) it starts
  # over. A log chosen with GOSIGHT_DEV_KAFKA_DATA is never removed.
  if [ -z "${GOSIGHT_DEV_KAFKA_DATA:-}" ] && [ -d "$data" ]; then
    local mb; mb=$(du -sm "$data" 2>/dev/null | cut -f1)
    if [ "${mb:-0}" -gt "${GOSIGHT_DEV_KAFKA_MAX_MB:-1024}" ]; then
      log "kafka: the development log holds ${mb} MB of old test topics; starting with a fresh one"
      rm -rf "$data"
    fi
  fi
  mkdir -p "$data"
  nohup "$bin" start --only kafka --host 127.0.0.1 --kafka-port "$KAFKA_PORT" \
    --data-dir "$data" >"$LOGS/kafka.log" 2>&1 &
  echo $! >"$RUN/kafka.pid"
  wait_for kafka port_open "$KAFKA_PORT"
  log "kafka on 127.0.0.1:$KAFKA_PORT"
}

start_clickhouse() {
  if curl -fsS "http://127.0.0.1:$CH_PORT/ping" >/dev/null 2>&1; then
    log "clickhouse already on :$CH_PORT"; return
  fi
  nohup "$VENV/bin/python" "$SCRIPTS/chdb_server.py" "$HOME_DIR/clickhouse" "$CH_PORT" \
    >"$LOGS/clickhouse.log" 2>&1 &
  echo $! >"$RUN/clickhouse.pid"
  wait_for clickhouse curl -fsS "http://127.0.0.1:$CH_PORT/ping"
  log "clickhouse on http://127.0.0.1:$CH_PORT"
}

start_postgres() {
  local bin; bin="$(pg_bin)"
  local data="$HOME_DIR/postgres"
  if "$bin/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT"; then
    log "postgres already on :$PG_PORT"
  else
    local run_as=()
    if [ "$(id -u)" = 0 ]; then run_as=(runuser -u postgres --); fi
    if [ ! -s "$data/PG_VERSION" ]; then
      mkdir -p "$data"
      if [ "$(id -u)" = 0 ]; then chown postgres:postgres "$data"; fi
      local pwfile; pwfile="$(mktemp)"
      printf 'gosight\n' >"$pwfile"
      if [ "$(id -u)" = 0 ]; then chown postgres "$pwfile"; fi
      "${run_as[@]}" "$bin/initdb" -D "$data" -U gosight --pwfile="$pwfile" \
        -A scram-sha-256 >"$LOGS/postgres-init.log" 2>&1
      rm -f "$pwfile"
    fi
    touch "$LOGS/postgres.log"
    if [ "$(id -u)" = 0 ]; then chown postgres "$LOGS/postgres.log"; fi
    "${run_as[@]}" "$bin/pg_ctl" -D "$data" -l "$LOGS/postgres.log" -w \
      -o "-p $PG_PORT -k /tmp -c listen_addresses=127.0.0.1 -c max_connections=300 -c fsync=off" start >/dev/null
  fi
  wait_for postgres "$bin/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT"
  PGPASSWORD=gosight "$bin/psql" -q -h 127.0.0.1 -p "$PG_PORT" -U gosight -d postgres -tAc \
    "SELECT 1 FROM pg_database WHERE datname='gosight'" | grep -q 1 ||
    PGPASSWORD=gosight "$bin/createdb" -h 127.0.0.1 -p "$PG_PORT" -U gosight gosight
  log "postgres on 127.0.0.1:$PG_PORT"
}

start_redis() {
  if port_open "$REDIS_PORT"; then log "redis already on :$REDIS_PORT"; return; fi
  mkdir -p "$HOME_DIR/redis"
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no \
    --dir "$HOME_DIR/redis" --daemonize yes --pidfile "$RUN/redis.pid" \
    --logfile "$LOGS/redis.log"
  wait_for redis port_open "$REDIS_PORT"
  log "redis on 127.0.0.1:$REDIS_PORT"
}

start() {
  install
  start_kafka
  start_clickhouse
  start_postgres
  start_redis
}

stop() {
  for name in kafka clickhouse redis; do
    if alive "$name"; then kill "$(cat "$RUN/$name.pid")" 2>/dev/null || true; fi
    rm -f "$RUN/$name.pid"
  done
  local bin; bin="$(pg_bin)"
  if [ -n "$bin" ] && [ -s "$HOME_DIR/postgres/postmaster.pid" ]; then
    local run_as=()
    if [ "$(id -u)" = 0 ]; then run_as=(runuser -u postgres --); fi
    "${run_as[@]}" "$bin/pg_ctl" -D "$HOME_DIR/postgres" -m fast stop >/dev/null || true
  fi
  log "stopped"
}

status() {
  port_open "$KAFKA_PORT" && echo "kafka: up" || echo "kafka: down"
  curl -fsS "http://127.0.0.1:$CH_PORT/ping" >/dev/null 2>&1 && echo "clickhouse: up" || echo "clickhouse: down"
  port_open "$PG_PORT" && echo "postgres: up" || echo "postgres: down"
  port_open "$REDIS_PORT" && echo "redis: up" || echo "redis: down"
}

env_lines() {
  cat <<EOT
export KAFKA_BROKERS=127.0.0.1:$KAFKA_PORT
export CLICKHOUSE_URL=http://127.0.0.1:$CH_PORT
export DATABASE_URL=postgres://gosight:gosight@127.0.0.1:$PG_PORT/gosight
export REDIS_URL=redis://127.0.0.1:$REDIS_PORT
export GEOIP_TEST_DB=$HOME_DIR/geoip/GeoIP2-City-Test.mmdb
export CHDB_PYTHON=$VENV/bin/python
export NOIDA_DB_BIN=$(dirname "$("$VENV/bin/python" -c 'import noida_db; print(noida_db.__file__)')")/noida-db
EOT
}

case "${1:-}" in
  install) install ;;
  start) start ;;
  stop) stop ;;
  status) status ;;
  env) env_lines ;;
  *) echo "usage: $0 install|start|stop|status|env" >&2; exit 2 ;;
esac
