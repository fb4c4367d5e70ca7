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

echo "generating $ROWS rows..." >&2
awk -v n="$ROWS" 'BEGIN { print "id,name,amount,ts"; for (i = 1; i <= n; i++) printf "%d,name %d,%d.%02d,2026-01-01T00:%02d:%02dZ\n", i, i % 977, i % 100000, i % 100, (i / 60) % 60, i % 60 }' > "$WORK/orders.csv"
WANT_SUM=$(( ROWS * (ROWS + 1) / 2 ))
DB="$ADF_TEST_DATABASE_URL"
psql -q "$DB" -c "DROP TABLE IF EXISTS bench_flink; CREATE TABLE bench_flink (id bigint PRIMARY KEY, name text, amount double precision, ts timestamptz)"

for side in A B; do
  runtime="{type: host}"
  [ "$side" = B ] && runtime="{type: flink, config: {url: \"$ADF_FLINK_URL\"}}"
  cat > "$WORK/$side.yaml" <<YAML
name: bench_flink
parallelism: 2
source: {type: file, config: {path: "$WORK/orders.csv"}}
sink: {type: postgres, config: {url: "$DB", table: bench_flink, mode: append}}
runtime: $runtime
YAML
done

run() { # run SIDE -> prints seconds
  local side=$1 data t0 t1
  data="$(mktemp -d "$WORK/data.XXXXXX")"
  t0=$(date +%s.%N)
  ADF_PLUGIN_DIR="$PWD/plugins" ADF_DATA_DIR="$data" ADF_FILE_ROOTS="$WORK" bin/adf run --progress none "$WORK/$side.yaml" >"$WORK/last.log" 2>&1 ||
    { cat "$WORK/last.log" >&2; exit 1; }
  t1=$(date +%s.%N)
  rm -rf "$data"
  echo "$t0 $t1" | awk '{ printf "%.3f\n", $2 - $1 }'
}
verify() {
  local got
  got=$(psql -qtA "$DB" -c "SELECT count(*) || ' ' || sum(id) FROM bench_flink")
  [ "$got" = "$ROWS $WANT_SUM" ] || { echo "PostgreSQL table holds '$got', want '$ROWS $WANT_SUM'" >&2; exit 1; }
  psql -q "$DB" -c "TRUNCATE bench_flink"
}

declare -A times
for i in $(seq 1 "$ROUNDS"); do
  for side in A B; do
    s=$(run "$side")
    verify
    times[$side]+="$s "
    echo "round $i $side: ${s}s" >&2
  done
done

stats() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{ a[NR] = $1 } END { m = (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2; printf "%.3f %.3f %.3f", m, a[1], a[NR] }'; }
read -r ma mina maxa <<<"$(echo "${times[A]}" | stats)"
read -r mb minb maxb <<<"$(echo "${times[B]}" | stats)"
printf '\n%-40s %-28s %-28s %s\n' "flow ($ROWS rows, parallelism 2)" "A: host rows/s" "B: flink rows/s" "B/A"
awk -v n="$ROWS" -v ma="$ma" -v mina="$mina" -v maxa="$maxa" -v mb="$mb" -v minb="$minb" -v maxb="$maxb" 'BEGIN {
  printf "%-40s %-28s %-28s %.2f\n", "CSV -> PostgreSQL append",
    sprintf("%.0fk (%.0fk-%.0fk)", n / ma / 1000, n / maxa / 1000, n / mina / 1000),
    sprintf("%.0fk (%.0fk-%.0fk)", n / mb / 1000, n / maxb / 1000, n / minb / 1000), ma / mb }'
