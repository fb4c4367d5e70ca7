#!/usr/bin/env bash
# A MinIO server on loopback for the tests that need a real S3-compatible
# object store. MinIO is AGPL-licensed: it is never a dependency of ADF
# (not in go.mod, not linked, not shipped); it is built once with
# `go install` into a cache directory outside the repository (about 6
# minutes and 150 MB on first use on 2 cores) and run as a separate
# process. Idempotent. `start` prints the variables the tests read, for
# `eval "$(scripts/minio.sh start)"`.
#
#   scripts/minio.sh start | stop | status | env
#
# ADF_MINIO_CACHE (default /var/cache/adf-test/minio) holds the binary,
# ADF_MINIO_DIR (default /var/tmp/adf-minio) the data and the log;
# ADF_TEST_S3_PORT (default 29000) is the S3 port, the console the next one.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/go-toolchain.sh
# A fixed release, so every machine builds the same server.
MINIO_VERSION="${ADF_MINIO_VERSION:-v0.0.0-20260212201848-7aac2a2c5b7c}"
CACHE="${ADF_MINIO_CACHE:-/var/cache/adf-test/minio}"
STATE="${ADF_MINIO_DIR:-/var/tmp/adf-minio}"
PORT="${ADF_TEST_S3_PORT:-29000}"
BIN="$CACHE/$MINIO_VERSION/minio"
# Test credentials of a loopback-only server, not secrets.
USER_NAME=adftest
PASSWORD=adftest-secret-key

log() { echo "minio: $*" >&2; }

up() { curl -fsS -o /dev/null "http://127.0.0.1:$PORT/minio/health/live" 2>/dev/null; }

build() {
  [ -x "$BIN" ] && return
  command -v curl >/dev/null || { apt-get update -qq >&2; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq curl >&2; }
  log "building MinIO $MINIO_VERSION into $CACHE (once per machine)"
  local tmp
  tmp="$(mktemp -d "${TMPDIR:-/tmp}/adf-minio-build.XXXXXX")"
  GOBIN="$tmp" go install "github.com/minio/minio@$MINIO_VERSION" >&2
  mkdir -p "$(dirname "$BIN")"
  mv "$tmp/minio" "$BIN"
  rm -rf "$tmp"
}

start() {
  build
  if ! up; then
    mkdir -p "$STATE/data"
    MINIO_ROOT_USER="$USER_NAME" MINIO_ROOT_PASSWORD="$PASSWORD" MINIO_BROWSER=off \
      setsid "$BIN" server --quiet --address "127.0.0.1:$PORT" --console-address "127.0.0.1:$((PORT + 1))" "$STATE/data" \
      >"$STATE/minio.log" 2>&1 < /dev/null &
    echo $! >"$STATE/minio.pid"
    for _ in $(seq 1 300); do up && break; sleep 0.1; done
  fi
  up || { log "MinIO did not start on port $PORT; the end of $STATE/minio.log:"; tail -n 20 "$STATE/minio.log" >&2 || true; exit 1; }
  env_vars
}

stop() {
  [ -s "$STATE/minio.pid" ] && kill "$(cat "$STATE/minio.pid")" 2>/dev/null || true
  for _ in $(seq 1 50); do up || break; sleep 0.1; done
  rm -f "$STATE/minio.pid"
}

env_vars() {
  echo "export ADF_TEST_S3_ENDPOINT='http://127.0.0.1:$PORT'"
  echo "export ADF_TEST_S3_ACCESS_KEY='$USER_NAME'"
  echo "export ADF_TEST_S3_SECRET_KEY='$PASSWORD'"
  echo "export ADF_TEST_S3_REGION='us-east-1'"
}

case "${1:-start}" in
  start) start ;;
  stop) stop ;;
  status) if up; then echo "MinIO up on 127.0.0.1:$PORT"; else echo "MinIO not running"; exit 1; fi ;;
  env) env_vars ;;
  *) log "unknown command $1 (start, stop, status, env)"; exit 2 ;;
esac
