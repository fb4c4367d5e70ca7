#!/usr/bin/env bash
# Builds the adf host into ./bin/adf and every bundled plugin into the
# plugins directory (default ./plugins, or $ADF_PLUGIN_DIR).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/go-toolchain.sh
out="${ADF_PLUGIN_DIR:-./plugins}"
mkdir -p "$out" bin
go build -o bin/adf ./host/cmd/adf
for main in plugins/*/cmd/adf-plugin-*; do
  name="$(basename "$main")"
  go build -o "$out/$name" "./$main"
  echo "built $out/$name"
done
echo "built bin/adf"
