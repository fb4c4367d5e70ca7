#!/usr/bin/env bash
# The cost of the two-phase sink protocol, end to end: CSV -> PostgreSQL
# (append into a table with a primary key) and CSV -> JSON lines, each run by
# the `adf` binary and plugins of a base revision (one-phase sinks, default
# 20342d3) and of this work tree, alternating A B A B ... ROUNDS times with
# default configs. Every output is verified (row count, sum of ids) after
# every run. Prints each side's median, min-max and the ratio.
#
#   scripts/bench/two-phase.sh [BASE_REV]      (ROWS=1000000 ROUNDS=5)
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/go-toolchain.sh
BASE="${1:-20342d3}"
ROWS="${ROWS:-1000000}"
ROUNDS="${ROUNDS:-5}"
eval "$(./scripts/services.sh start)"
WORK="$(mktemp -d /tmp/adf-bench-2pc.XXXXXX)"
trap 'git worktree remove --force "$WORK/base-src" >/dev/null 2>&1 || true; rm -rf "$WORK"' EXIT
. scripts/bench/lib.sh

build() { # build SRC_DIR OUT_DIR
  mkdir -p "$2/plugins"
  (cd "$1" && go build -o "$2/adf" ./host/cmd/adf &&
    go build -o "$2/plugins/adf-plugin-file" ./plugins/file/cmd/adf-plugin-file &&
    go build -o "$2/plugins/adf-plugin-sql" ./plugins/sql/cmd/adf-plugin-sql)
}
echo "building $BASE (A) and the work tree (B)..." >&2
git worktree add --detach "$WORK/base-src" "$BASE" >/dev/null 2>&1
build "$WORK/base-src" "$WORK/A"
build "$PWD" "$WORK/B"

echo "generating $ROWS rows..." >&2
gen_orders "$WORK/orders.csv" "$ROWS"
WANT_SUM=$(( ROWS * (ROWS + 1) / 2 ))
DB="$ADF_TEST_DATABASE_URL"
psql -q "$DB" -c "DROP TABLE IF EXISTS bench_2pc; CREATE TABLE bench_2pc (id bigint PRIMARY KEY, name text, amount double precision, ts timestamptz)"

cat > "$WORK/pg.yaml" <<YAML
name: bench_2pc_pg
source: {type: file, config: {path: "$WORK/orders.csv"}}
sink: {type: postgres, config: {url: "$DB", table: bench_2pc, mode: append}}
YAML
cat > "$WORK/jsonl.yaml" <<YAML
name: bench_2pc_jsonl
source: {type: file, config: {path: "$WORK/orders.csv"}}
sink: {type: file, config: {path: "$WORK/out.jsonl"}}
YAML

run() { # run SIDE FLOW
  ADF_PLUGIN_DIR="$WORK/$1/plugins" ADF_DATA_DIR="$WORK/data-$1" ADF_FILE_ROOTS="$WORK" "$WORK/$1/adf" run --progress none "$WORK/$2.yaml"
}
verify_pg() {
  want_eq "PostgreSQL table (count sum)" "$(psql -qtA "$DB" -c "SELECT count(*) || ' ' || sum(id) FROM bench_2pc")" "$ROWS $WANT_SUM"
  psql -q "$DB" -c "TRUNCATE bench_2pc"
}
verify_jsonl() {
  want_eq "JSON lines (rows sum)" "$(awk -F'"id":' '{ split($2, a, ","); s += a[1]; n++ } END { printf "%d %.0f", n, s }' "$WORK/out.jsonl")" "$ROWS $WANT_SUM"
  rm -f "$WORK/out.jsonl"
}

for flow in pg jsonl; do
  for i in $(seq 1 "$ROUNDS"); do
    echo "$flow round $i" >&2
    for side in A B; do
      name=one-phase
      [ "$side" = B ] && name=two-phase
      timed "$flow.$name" run "$side" "$flow"
      "verify_$flow"
    done
  done
done

table_header "$ROWS rows; one-phase: $BASE; A/B > 1: A faster"
rate_row "CSV -> PostgreSQL append" "$ROWS" pg.two-phase pg.one-phase
rate_row "CSV -> JSON lines" "$ROWS" jsonl.two-phase jsonl.one-phase
cat "$WORK/table"
