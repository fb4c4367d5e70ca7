#!/usr/bin/env bash
# The Flink runtime against the host runtime, end to end: the same flow file
# (CSV -> PostgreSQL append into a table with a primary key, parallelism 2,
# default configs otherwise) run by `adf run` with `runtime: host` (A) and
# `runtime: flink` on the local cluster of scripts/flink-local.sh (B),
# alternating A B A B ... ROUNDS times. Every output is verified (row count,
# sum of ids) after every run. Prints each side's rows/s median, min-max and
# the ratio. Times are whole `adf run` processes: for Flink they include
# building and uploading the job jar (the plugin binaries travel in it),
# scheduling and the final checkpoint.
#
#   scripts/bench/flink.sh      (ROWS=1000000 ROUNDS=5)
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/go-toolchain.sh
ROWS="${ROWS:-1000000}"
ROUNDS="${ROUNDS:-5}"
eval "$(./scripts/services.sh start)"
eval "$(./scripts/flink-local.sh start)"
./scripts/build-plugins.sh >/dev/null
./scripts/build-bridge.sh >/dev/null
WORK="$(mktemp -d /tmp/adf-bench-flink.XXXXXX)"
trap 'rm -rf "$WORK"' EXIT
. scripts/bench/lib.sh

echo "generating $ROWS rows..." >&2
gen_orders "$WORK/orders.csv" "$ROWS"
WANT_SUM=$(( ROWS * (ROWS + 1) / 2 ))
DB="$ADF_TEST_DATABASE_URL"
psql -q "$DB" -c "DROP TABLE IF EXISTS bench_flink; CREATE TABLE bench_flink (id bigint PRIMARY KEY, name text, amount double precision, ts timestamptz)"

for side in host flink; do
  runtime="{type: host}"
  [ "$side" = flink ] && runtime="{type: flink, config: {url: \"$ADF_FLINK_URL\"}}"
  cat > "$WORK/$side.yaml" <<YAML
name: bench_flink
parallelism: 2
source: {type: file, config: {path: "$WORK/orders.csv"}}
sink: {type: postgres, config: {url: "$DB", table: bench_flink, mode: append}}
runtime: $runtime
YAML
done

adf() { ADF_PLUGIN_DIR="$PWD/plugins" ADF_DATA_DIR="$WORK/data" ADF_FILE_ROOTS="$WORK" bin/adf run --progress none "$@"; }
verify() {
  want_eq "PostgreSQL table (count sum)" "$(psql -qtA "$DB" -c "SELECT count(*) || ' ' || sum(id) FROM bench_flink")" "$ROWS $WANT_SUM"
  psql -q "$DB" -c "TRUNCATE bench_flink"
}

for i in $(seq 1 "$ROUNDS"); do
  echo "round $i" >&2
  for side in host flink; do
    timed "flink.$side" adf "$WORK/$side.yaml"
    verify
  done
done

table_header "$ROWS rows, parallelism 2; A/B > 1: A faster"
rate_row "CSV -> PostgreSQL append, Flink vs host" "$ROWS" flink.flink flink.host
cat "$WORK/table"
