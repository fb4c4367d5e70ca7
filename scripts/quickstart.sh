#!/usr/bin/env bash
# Quickstart: build adf and the bundled plugins, then run the sample flow
# (examples/quickstart: a CSV of orders -> filtered, renamed JSON-lines).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v go >/dev/null || { echo "Go is required: https://go.dev/doc/install (Debian: apt-get install golang)"; exit 1; }
./scripts/build-plugins.sh
mkdir -p out
./bin/adf run examples/quickstart/orders.yaml
echo
echo "first rows of out/big_orders.jsonl:"
head -n 3 out/big_orders.jsonl
