#!/usr/bin/env bash
# The whole test suite: builds the host and every plugin, then runs
# `go test ./...` (unit and integration tests against real plugin processes).
# Extra arguments go to `go test` (e.g. -run TestName -v).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v go >/dev/null || { echo "Go is required"; exit 1; }
./scripts/build-plugins.sh
go vet ./...
go test -timeout 20m -count=1 "$@" ./...
