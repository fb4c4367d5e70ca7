#!/usr/bin/env bash
# Builds the adf host into ./bin/adf (and ./bin/adf-transforms, the built-in
# transforms for runtimes outside the host) and every bundled plugin into the
# plugins directory (default ./plugins, or $ADF_PLUGIN_DIR).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/go-toolchain.sh
out="${ADF_PLUGIN_DIR:-./plugins}"
mkdir -p "$out" bin
go build -o bin/adf ./host/cmd/adf
# The built-in transforms as a plugin-protocol executable, shipped by
# runtimes that run flows outside the host (runtime-flink).
go build -o bin/adf-transforms ./host/cmd/adf-transforms
for main in plugins/*/cmd/adf-plugin-*; do
  name="$(basename "$main")"
  go build -o "$out/$name" "./$main"
  echo "built $out/$name"
done
echo "built bin/adf bin/adf-transforms"
