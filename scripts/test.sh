#!/usr/bin/env bash
# The whole test suite. Installs (apt-get, when missing) and starts PostgreSQL
# and Redis on loopback ports (scripts/services.sh) and installs Debian's
# Chromium for the web console's browser tests (scripts/chromium.sh). In the
# background, while it builds the host, every plugin and the Flink bridge jar
# (scripts/build-bridge.sh, Maven), it starts a local Apache Flink cluster
# (scripts/flink-local.sh, from PyPI), a MinIO S3 server (scripts/minio.sh)
# and Cloud Storage and Azure Blob emulators (scripts/blob-emulators.sh:
# fake-gcs-server and Azurite), each built or installed once into a cache
# outside the repository. Then it runs `go vet`, govulncheck
# (scripts/vulncheck.sh: no known vulnerability in code the project calls)
# and `go test ./...` (unit and integration tests against real plugin
# processes, PostgreSQL, Redis, Flink, MinIO, the emulators and Chromium),
# and fuzzes each fuzz target for 10s (scripts/fuzz.sh).
# Extra arguments go to `go test` (e.g. -run TestName -v).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/go-toolchain.sh
command -v go >/dev/null || { echo "Go is required"; exit 1; }
eval "$(./scripts/services.sh start)"
eval "$(./scripts/chromium.sh)"
flink_out="$(mktemp)"
./scripts/flink-local.sh start >"$flink_out" 2>"$flink_out.log" &
flink_pid=$!
minio_out="$(mktemp)"
./scripts/minio.sh start >"$minio_out" 2>"$minio_out.log" &
minio_pid=$!
emu_out="$(mktemp)"
./scripts/blob-emulators.sh start >"$emu_out" 2>"$emu_out.log" &
emu_pid=$!
./scripts/build-plugins.sh
./scripts/build-bridge.sh
go vet ./...
./scripts/vulncheck.sh
wait "$flink_pid" || { cat "$flink_out.log" >&2; echo "scripts/flink-local.sh start failed" >&2; exit 1; }
eval "$(cat "$flink_out")"
rm -f "$flink_out" "$flink_out.log"
wait "$minio_pid" || { cat "$minio_out.log" >&2; echo "scripts/minio.sh start failed" >&2; exit 1; }
eval "$(cat "$minio_out")"
rm -f "$minio_out" "$minio_out.log"
wait "$emu_pid" || { cat "$emu_out.log" >&2; echo "scripts/blob-emulators.sh start failed" >&2; exit 1; }
eval "$(cat "$emu_out")"
rm -f "$emu_out" "$emu_out.log"
go test -timeout 20m -count=1 "$@" ./...
# A short fuzzing pass of every fuzz target (their seed corpora ran above).
[ $# -gt 0 ] || ./scripts/fuzz.sh
