#!/usr/bin/env bash
# Quickstart on the embedded default: builds adf and the bundled plugins,
# starts `adf serve` with SQLite in ./adf-data, applies the sample flow
# (examples/quickstart: a CSV of orders -> filter -> rename -> JSON-lines),
# lets the built-in ticker schedule it, shows the run and its output, and
# stops the server.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/go-toolchain.sh
command -v go >/dev/null || { echo "Go is required: https://go.dev/doc/install (Debian: apt-get install golang)"; exit 1; }
./scripts/build-plugins.sh
# A fresh store each time, so the ticker runs the sample flow now.
export ADF_DATA_DIR="${ADF_DATA_DIR:-./adf-data/quickstart}"
rm -rf "$ADF_DATA_DIR"
export ADF_LISTEN="${ADF_LISTEN:-127.0.0.1:8089}"
unset ADF_DATABASE_URL
mkdir -p "$ADF_DATA_DIR" out
rm -f out/big_orders.jsonl out/big_orders.rejected.jsonl
# adf serve lets flows use only the data directory and the file roots listed:
# here the sample input and the output directory.
./bin/adf serve --tick 1s --file-roots "$PWD/examples/quickstart,$PWD/out" >"$ADF_DATA_DIR/serve.log" 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null; wait "$server" 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
  ./bin/adf flows list >/dev/null 2>&1 && break
  kill -0 "$server" 2>/dev/null || { cat "$ADF_DATA_DIR/serve.log"; exit 1; }
  sleep 0.1
done
echo "adf serve is up on http://$ADF_LISTEN (SQLite store: $ADF_DATA_DIR/adf.db, log: $ADF_DATA_DIR/serve.log)"
./bin/adf flows apply -f examples/quickstart/orders.yaml
echo "waiting for the ticker to run it..."
for _ in $(seq 1 120); do
  status="$(./bin/adf runs list --flow big_orders --limit 1 | awk 'NR==2 {print $3}')"
  case "$status" in success|failed) break ;; esac
  sleep 0.5
done
./bin/adf flows list
./bin/adf runs show "$(./bin/adf runs list --flow big_orders --limit 1 | awk 'NR==2 {print $1}')"
echo
echo "first rows of out/big_orders.jsonl:"
head -n 3 out/big_orders.jsonl
echo "rejected rows: out/big_orders.rejected.jsonl ($(wc -l < out/big_orders.rejected.jsonl) line)"
[ "$status" = success ]
