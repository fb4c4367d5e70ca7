#!/usr/bin/env bash
# Emulators of Google Cloud Storage (fake-gcs-server, BSD-2, built once with
# `go install` into a cache outside the repository) and Azure Blob Storage
# (Azurite, MIT, installed once with npm into that cache) on loopback, for
# the file plugin's gs:// and azblob:// tests. Test processes only: neither
# is a dependency of ADF. Idempotent; `start` prints the variables the tests
# read, for `eval "$(scripts/blob-emulators.sh start)"`.
#
#   scripts/blob-emulators.sh start | stop | status | env
#
# ADF_EMULATOR_CACHE (default /var/cache/adf-test) holds the builds,
# ADF_EMULATOR_DIR (default /var/tmp/adf-blob-emulators) the logs;
# ports: ADF_TEST_GCS_PORT (29200), ADF_TEST_AZURE_PORT (29300).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/go-toolchain.sh
FAKE_GCS_VERSION="${ADF_FAKE_GCS_VERSION:-v1.56.1}"
AZURITE_VERSION="${ADF_AZURITE_VERSION:-3.37.0}"
CACHE="${ADF_EMULATOR_CACHE:-/var/cache/adf-test}"
STATE="${ADF_EMULATOR_DIR:-/var/tmp/adf-blob-emulators}"
GCS_PORT="${ADF_TEST_GCS_PORT:-29200}"
AZ_PORT="${ADF_TEST_AZURE_PORT:-29300}"
GCS_BIN="$CACHE/fake-gcs-server/$FAKE_GCS_VERSION/fake-gcs-server"
AZ_DIR="$CACHE/azurite/$AZURITE_VERSION"
AZ_BIN="$AZ_DIR/node_modules/.bin/azurite-blob"
# Azurite's well-known development account: public, not a secret.
AZ_ACCOUNT=devstoreaccount1
AZ_KEY='Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=='

log() { echo "blob-emulators: $*" >&2; }

gcs_up() { curl -fsS -o /dev/null "http://127.0.0.1:$GCS_PORT/storage/v1/b" 2>/dev/null; }
# Azurite answers an unauthenticated request with an error status: any
# answer means it is up.
az_up() { [ "$(curl -sS -o /dev/null -w '%{http_code}' "http://127.0.0.1:$AZ_PORT/$AZ_ACCOUNT?comp=list" 2>/dev/null)" != 000 ]; }

build() {
  command -v curl >/dev/null || { apt-get update -qq >&2; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq curl >&2; }
  if [ ! -x "$GCS_BIN" ]; then
    log "building fake-gcs-server $FAKE_GCS_VERSION into $CACHE (once per machine)"
    local tmp
    tmp="$(mktemp -d "${TMPDIR:-/tmp}/adf-fake-gcs.XXXXXX")"
    GOBIN="$tmp" go install "github.com/fsouza/fake-gcs-server@$FAKE_GCS_VERSION" >&2
    mkdir -p "$(dirname "$GCS_BIN")"
    mv "$tmp/fake-gcs-server" "$GCS_BIN"
    rm -rf "$tmp"
  fi
  if [ ! -x "$AZ_BIN" ]; then
    command -v npm >/dev/null || { apt-get update -qq >&2; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >&2; }
    log "installing Azurite $AZURITE_VERSION into $AZ_DIR (once per machine)"
    mkdir -p "$AZ_DIR"
    (cd "$AZ_DIR" && npm install --no-audit --no-fund --silent "azurite@$AZURITE_VERSION" >&2)
  fi
}

wait_up() { # wait_up NAME CHECK LOG
  for _ in $(seq 1 300); do "$2" && return; sleep 0.1; done
  log "$1 did not start; the end of $3:"
  tail -n 20 "$3" >&2 || true
  exit 1
}

start() {
  build
  mkdir -p "$STATE"
  if ! gcs_up; then
    setsid "$GCS_BIN" -scheme http -host 127.0.0.1 -port "$GCS_PORT" -backend memory \
      -public-host "127.0.0.1:$GCS_PORT" -external-url "http://127.0.0.1:$GCS_PORT" -log-level warn \
      >"$STATE/fake-gcs.log" 2>&1 </dev/null &
    echo $! >"$STATE/fake-gcs.pid"
  fi
  if ! az_up; then
    setsid "$AZ_BIN" --blobHost 127.0.0.1 --blobPort "$AZ_PORT" --inMemoryPersistence --skipApiVersionCheck --silent \
      >"$STATE/azurite.log" 2>&1 </dev/null &
    echo $! >"$STATE/azurite.pid"
  fi
  wait_up fake-gcs-server gcs_up "$STATE/fake-gcs.log"
  wait_up Azurite az_up "$STATE/azurite.log"
  env_vars
}

stop() {
  local p
  for p in fake-gcs azurite; do
    [ -s "$STATE/$p.pid" ] && kill "$(cat "$STATE/$p.pid")" 2>/dev/null || true
    rm -f "$STATE/$p.pid"
  done
}

env_vars() {
  echo "export ADF_TEST_GCS_ENDPOINT='http://127.0.0.1:$GCS_PORT'"
  echo "export ADF_TEST_AZURE_ENDPOINT='http://127.0.0.1:$AZ_PORT/$AZ_ACCOUNT'"
  echo "export ADF_TEST_AZURE_ACCOUNT='$AZ_ACCOUNT'"
  echo "export ADF_TEST_AZURE_KEY='$AZ_KEY'"
}

case "${1:-start}" in
  start) start ;;
  stop) stop ;;
  status)
    gcs_up && echo "fake-gcs-server up on 127.0.0.1:$GCS_PORT" || { echo "fake-gcs-server not running"; exit 1; }
    az_up && echo "Azurite up on 127.0.0.1:$AZ_PORT" || { echo "Azurite not running"; exit 1; } ;;
  env) env_vars ;;
  *) log "unknown command $1 (start, stop, status, env)"; exit 2 ;;
esac
