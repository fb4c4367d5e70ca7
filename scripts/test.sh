#!/usr/bin/env bash
# The whole test suite: installs (apt-get, when missing) and starts PostgreSQL
# and Redis on loopback ports (scripts/services.sh), builds the host and every
# plugin, then runs `go vet`, govulncheck (scripts/vulncheck.sh: no known
# vulnerability in code the project calls) and `go test ./...` (unit and
# integration tests against real plugin processes, PostgreSQL and Redis),
# then fuzzes each fuzz target for 10s (scripts/fuzz.sh).
# Extra arguments go to `go test` (e.g. -run TestName -v).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/go-toolchain.sh
command -v go >/dev/null || { echo "Go is required"; exit 1; }
eval "$(./scripts/services.sh start)"
./scripts/build-plugins.sh
go vet ./...
./scripts/vulncheck.sh
go test -timeout 20m -count=1 "$@" ./...
# A short fuzzing pass of every fuzz target (their seed corpora ran above).
[ $# -gt 0 ] || ./scripts/fuzz.sh
