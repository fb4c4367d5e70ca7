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
awk -v n="$ROWS" 'BEGIN { print "id,name,amount,ts"; for (i = 1; i <= n; i++) printf "%d,name %d,%d.%02d,2026-01-01T00:%02d:%02dZ\n", i, i % 977, i % 100000, i % 100, (i / 60) % 60, i % 60 }' > "$WORK/orders.csv"
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

run() { # run SIDE FLOW -> prints seconds
  local side=$1 flow=$2 data
  data="$(mktemp -d "$WORK/data.XXXXXX")"
  local t0 t1
  t0=$(date +%s.%N)
  ADF_PLUGIN_DIR="$WORK/$side/plugins" ADF_DATA_DIR="$data" "$WORK/$side/adf" run --progress none "$WORK/$flow.yaml" >"$WORK/last.log" 2>&1 ||
    { cat "$WORK/last.log" >&2; exit 1; }
  t1=$(date +%s.%N)
  rm -rf "$data"
  echo "$t0 $t1" | awk '{ printf "%.3f\n", $2 - $1 }'
}
verify_pg() {
  local got
  got=$(psql -qtA "$DB" -c "SELECT count(*) || ' ' || sum(id) FROM bench_2pc")
  [ "$got" = "$ROWS $WANT_SUM" ] || { echo "PostgreSQL table holds '$got', want '$ROWS $WANT_SUM'" >&2; exit 1; }
  psql -q "$DB" -c "TRUNCATE bench_2pc"
}
verify_jsonl() {
  local got
  got=$(awk -F'"id":' '{ split($2, a, ","); s += a[1]; n++ } END { printf "%d %.0f", n, s }' "$WORK/out.jsonl")
  [ "$got" = "$ROWS $WANT_SUM" ] || { echo "JSON lines hold '$got', want '$ROWS $WANT_SUM'" >&2; exit 1; }
  rm -f "$WORK/out.jsonl"
}

declare -A times
for flow in pg jsonl; do
  for i in $(seq 1 "$ROUNDS"); do
    for side in A B; do
      s=$(run "$side" "$flow")
      "verify_$flow"
      times[$flow.$side]+="$s "
      echo "$flow round $i $side: ${s}s" >&2
    done
  done
done

stats() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{ a[NR] = $1 } END { m = (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2; printf "%.3f %.3f %.3f", m, a[1], a[NR] }'; }
printf '\n%-26s %-26s %-26s %s\n' "flow ($ROWS rows)" "A: $BASE rows/s" "B: two-phase rows/s" "B/A"
for flow in pg jsonl; do
  read -r ma mina maxa <<<"$(echo "${times[$flow.A]}" | stats)"
  read -r mb minb maxb <<<"$(echo "${times[$flow.B]}" | stats)"
  label="CSV -> PostgreSQL append"
  [ "$flow" = jsonl ] && label="CSV -> JSON lines"
  awk -v l="$label" -v n="$ROWS" -v ma="$ma" -v mina="$mina" -v maxa="$maxa" -v mb="$mb" -v minb="$minb" -v maxb="$maxb" 'BEGIN {
    printf "%-26s %-26s %-26s %.2f\n", l,
      sprintf("%.0fk (%.0fk-%.0fk)", n / ma / 1000, n / maxa / 1000, n / mina / 1000),
      sprintf("%.0fk (%.0fk-%.0fk)", n / mb / 1000, n / maxb / 1000, n / minb / 1000), ma / mb }'
done
