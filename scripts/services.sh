#!/usr/bin/env bash
# Starts the services the integration tests use, PostgreSQL and Redis, each on
# a loopback port of its own, installing them with apt-get when missing.
# Idempotent. Prints the variables the tests read, for `eval "$(scripts/services.sh)"`.
# ADF_TEST_REDIS_AOF=1 starts Redis with the append-only file on (appendfsync
# everysec), so a restart, or a kill -9 and a start, keeps its data; by default
# Redis keeps nothing.
#
#   scripts/services.sh [start]        start both (default)
#   scripts/services.sh start-redis | restart-postgres | restart-redis | stop-postgres | stop-redis | stop
set -euo pipefail
STATE="${ADF_SERVICES_DIR:-/var/tmp/adf-services}"
PG_PORT="${ADF_TEST_PG_PORT:-54329}"
REDIS_PORT="${ADF_TEST_REDIS_PORT:-63799}"
PGDATA="$STATE/pg"

log() { echo "services: $*" >&2; }

install_missing() {
  local need=()
  pg_bin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)"
  [ -n "$pg_bin" ] && [ -x "$pg_bin/initdb" ] || need+=(postgresql)
  command -v redis-server >/dev/null || need+=(redis-server)
  if [ ${#need[@]} -gt 0 ]; then
    log "installing ${need[*]} with apt-get"
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >&2
    pg_bin="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)"
  fi
}

as_postgres() { runuser -u postgres -- "$@"; }

pg_up() { "$pg_bin/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" 2>/dev/null; }

start_postgres() {
  mkdir -p "$STATE"
  if [ ! -s "$PGDATA/PG_VERSION" ]; then
    mkdir -p "$PGDATA"
    chown -R postgres:postgres "$PGDATA"
    as_postgres "$pg_bin/initdb" -D "$PGDATA" -A trust -U postgres >/dev/null
  fi
  chown postgres:postgres "$PGDATA"
  if ! pg_up; then
    as_postgres "$pg_bin/pg_ctl" -D "$PGDATA" -l "$PGDATA/server.log" -w -t 60 start \
      -o "-p $PG_PORT -k /tmp -c listen_addresses=127.0.0.1 -c max_connections=400 -c max_prepared_transactions=100 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c shared_buffers=256MB" >/dev/null
  fi
  pg_up || { log "PostgreSQL did not start on port $PG_PORT; the end of $PGDATA/server.log:"; tail -n 20 "$PGDATA/server.log" >&2 || true; exit 1; }
}

stop_postgres() {
  [ -s "$PGDATA/PG_VERSION" ] && as_postgres "$pg_bin/pg_ctl" -D "$PGDATA" -m fast -w stop >/dev/null 2>&1 || true
}

redis_up() { redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG; }

start_redis() {
  mkdir -p "$STATE/redis"
  if ! redis_up; then
    local aof=no
    [ "${ADF_TEST_REDIS_AOF:-0}" = 1 ] && aof=yes
    redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --daemonize yes --save '' --appendonly "$aof" --appendfsync everysec \
      --dir "$STATE/redis" --pidfile "$STATE/redis/redis.pid" --logfile "$STATE/redis/redis.log" >/dev/null
    # Up to 60s: with the append-only file on, Redis loads it before it answers.
    for _ in $(seq 1 600); do redis_up && break; sleep 0.1; done
  fi
  redis_up || { log "Redis did not start on port $REDIS_PORT; the end of $STATE/redis/redis.log:"; tail -n 20 "$STATE/redis/redis.log" >&2 || true; exit 1; }
}

stop_redis() {
  redis-cli -h 127.0.0.1 -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true
  for _ in $(seq 1 50); do redis_up || break; sleep 0.1; done
}

install_missing
case "${1:-start}" in
  start) start_postgres; start_redis ;;
  start-redis) start_redis ;;
  restart-postgres) stop_postgres; start_postgres ;;
  restart-redis) stop_redis; start_redis ;;
  stop-postgres) stop_postgres; exit 0 ;;
  stop-redis) stop_redis; exit 0 ;;
  stop) stop_postgres; stop_redis; exit 0 ;;
  *) log "unknown command $1"; exit 2 ;;
esac
[ "${1:-start}" = start-redis ] || echo "export ADF_TEST_DATABASE_URL='postgres://postgres@127.0.0.1:$PG_PORT/postgres?sslmode=disable'"
echo "export ADF_TEST_REDIS_URL='redis://127.0.0.1:$REDIS_PORT/0'"
