#!/usr/bin/env bash
# ADF's headline benchmarks, end to end: every side is a whole process (the
# `adf` binary with its plugin processes, or the yardstick tool), run with
# default configs unless a line says otherwise, the two sides alternating
# A B A B ... ROUNDS times; every output is verified after every run. Prints
# a table of medians, min-max and the ratio of the medians.
#
#   scripts/bench/run.sh [pg] [jsonl] [rafka] [iceberg] [parquet] [s3] [startup]
#                        (all by default; ROWS=1000000 ROUNDS=5)
#
# pg       CSV -> PostgreSQL table with a primary key: `adf run` vs psql \copy
#          (text COPY of the same file). Verified: count, sum(id), distinct
#          ids, and an md5 over every row equal to psql's load.
# jsonl    CSV -> JSON lines with 1, 2 and 4 readers: `adf run` (one output
#          file) vs the baseline tool (scripts/bench/baseline: arrow-go CSV
#          reader + JSON writer, as many goroutines, a file each).
#          Verified: lines and sum(id). Also 2 readers vs 1 and 4 vs 1.
# rafka    a 4-partition topic -> `adf run` of the rafka source
#          (available_now, 2 readers) into the discard sink vs the baseline's
#          pipelined XREADGROUP + XACK with 2 consumers. Verified: entries
#          read, nothing pending.
# iceberg  CSV -> Iceberg (SQLite catalog, local warehouse) vs the
#          baseline's arrow-go CSV reader + pqarrow (zstd), parallelism 1
#          and 2 both sides. Verified: rows, sum(id), distinct ids (an iceberg-go
#          scan: scripts/bench/iceberg-sum); the Parquet files: rows, sum(id).
# parquet  CSV -> Parquet (local, zstd): `adf run` with parallelism 1 and 2 vs
#          pyarrow.csv.read_csv + pyarrow.parquet.write_table on 1 thread and
#          on its thread pool (scripts/bench/pyarrow_csv_parquet.py, pyarrow
#          from PyPI in a venv, /var/tmp/adf-pyarrow-venv). Verified: rows
#          and sum(id) of both files.
# s3       read throughput from S3 (the MinIO of scripts/minio.sh): `adf run`
#          of the file source on one CSV object into the discard sink, 1 and 2
#          readers, vs the baseline's raw GETs of the same object to nowhere
#          (one GET, as `mc cp` does; 2 concurrent ranged GETs). ADF parses
#          the CSV besides, so a third line compares the same flow on the
#          local copy of the file. Verified: ADF read ROWS rows; the GETs
#          read the object's size.
# startup  a one-row CSV -> JSON-lines flow: `adf run` vs the baseline tool
#          converting the same file (a Go process start).
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/go-toolchain.sh
ROWS="${ROWS:-1000000}"
ROUNDS="${ROUNDS:-5}"
WHICH="${*:-pg jsonl rafka iceberg parquet s3 startup}"
WORK="$(mktemp -d /tmp/adf-bench.XXXXXX)"
trap 'rm -rf "$WORK"' EXIT
. scripts/bench/lib.sh

eval "$(./scripts/services.sh start)"
echo "building..." >&2
./scripts/build-plugins.sh >/dev/null
go build -o "$WORK/baseline" ./scripts/bench/baseline
go build -o "$WORK/iceberg-sum" ./scripts/bench/iceberg-sum
CSV="$WORK/orders.csv"
echo "generating $ROWS rows ($CSV)..." >&2
gen_orders "$CSV" "$ROWS"
WANT_SUM=$(( ROWS * (ROWS + 1) / 2 ))
DB="$ADF_TEST_DATABASE_URL"
# One data directory for every run, as a user's: the store and caches persist.
export ADF_PLUGIN_DIR="$PWD/plugins" ADF_DATA_DIR="$WORK/data" ADF_FILE_ROOTS="$WORK"
adf() { bin/adf run --progress none "$@"; }
# The first command of a data directory starts every plugin once to cache
# what it provides; a user pays that once, not per run.
bin/adf plugins list >/dev/null

flow() { # flow NAME PARALLELISM SOURCE_YAML SINK_YAML -> path of the flow file
  cat >"$WORK/$1.yaml" <<YAML
name: $1
parallelism: $2
source: $3
sink: $4
YAML
  echo "$WORK/$1.yaml"
}

bench_pg() {
  psql -q "$DB" -c "DROP TABLE IF EXISTS bench_pg; CREATE TABLE bench_pg (id bigint PRIMARY KEY, name text, amount double precision, ts timestamptz)"
  local f digest="" got
  f=$(flow bench_pg 1 "{type: file, config: {path: \"$CSV\"}}" "{type: postgres, config: {url: \"$DB\", table: bench_pg, mode: append}}")
  check() {
    got=$(psql -qtA "$DB" -c "SELECT count(*) || ' ' || sum(id) || ' ' || count(DISTINCT id) || ' ' || md5(string_agg(id || ',' || name || ',' || amount || ',' || ts, E'\n' ORDER BY id)) FROM bench_pg")
    want_eq "bench_pg (count sum distinct)" "${got% *}" "$ROWS $WANT_SUM $ROWS"
    [ -z "$digest" ] && digest=${got##* }
    want_eq "bench_pg md5 of every row" "${got##* }" "$digest"
    psql -q "$DB" -c "TRUNCATE bench_pg"
  }
  for i in $(seq 1 "$ROUNDS"); do
    echo "pg round $i" >&2
    timed pg.psql psql -q "$DB" -c "\\copy bench_pg FROM '$CSV' WITH (FORMAT csv, HEADER true)"
    check
    timed pg.adf adf "$f"
    check
  done
  table_header "$ROWS rows; A/B > 1: A faster"
  rate_row "CSV -> PostgreSQL (primary key), defaults" "$ROWS" pg.adf pg.psql
}

bench_jsonl() {
  local p f
  for p in 1 2 4; do
    flow "bench_jsonl_$p" "$p" "{type: file, config: {path: \"$CSV\"}}" "{type: file, config: {path: \"$WORK/out.jsonl\"}}" >/dev/null
  done
  for i in $(seq 1 "$ROUNDS"); do
    for p in 1 2 4; do
      echo "jsonl round $i, parallelism $p" >&2
      timed "jsonl.adf-p$p" adf "$WORK/bench_jsonl_$p.yaml"
      want_eq "adf JSON lines (rows sum)" "$("$WORK/baseline" jsonl-sum "$WORK/out.jsonl")" "$ROWS $WANT_SUM"
      rm -f "$WORK/out.jsonl"
      timed "jsonl.arrow-p$p" "$WORK/baseline" csv-jsonl -p "$p" "$CSV" "$WORK/out"
      want_eq "baseline JSON lines (rows sum)" "$("$WORK/baseline" jsonl-sum "$WORK/out")" "$ROWS $WANT_SUM"
      rm -rf "$WORK/out"
    done
  done
  table_header "$ROWS rows; A/B > 1: A faster"
  for p in 1 2 4; do
    rate_row "CSV -> JSON lines, parallelism $p" "$ROWS" "jsonl.adf-p$p" "jsonl.arrow-p$p"
  done
  rate_row "CSV -> JSON lines, adf 2 readers vs 1" "$ROWS" jsonl.adf-p2 jsonl.adf-p1
  rate_row "CSV -> JSON lines, adf 4 readers vs 1" "$ROWS" jsonl.adf-p4 jsonl.adf-p1
}

bench_rafka() {
  local topic="bench-$$" url="$ADF_TEST_REDIS_URL" f got
  echo "producing $ROWS messages into $topic (4 partitions) with adf run..." >&2
  f=$(flow bench_rafka_produce 1 "{type: file, config: {path: \"$CSV\"}}" "{type: rafka, config: {url: \"$url\", topic: \"$topic\", partitions: 4, key_column: id}}")
  adf "$f" >/dev/null
  pending() { # pending GROUP -> entries pending in the group over all partitions
    local n=0 p k
    for p in 0 1 2 3; do
      k=$(redis-cli -u "$url" XPENDING "rafka:{$topic}:$p" "$1" | head -1)
      n=$((n + k))
    done
    echo "$n"
  }
  for i in $(seq 1 "$ROUNDS"); do
    echo "rafka round $i" >&2
    f=$(flow "bench_rafka_$i" 2 "{type: rafka, config: {url: \"$url\", topic: \"$topic\", group: adf-$i, mode: available_now}}" "{type: discard}")
    timed rafka.adf adf "$f"
    got=$(grep -o '[0-9]* rows read, [0-9]* written' "$WORK/last.log")
    want_eq "adf rafka run" "$got" "$ROWS rows read, $ROWS written"
    want_eq "entries pending for adf-$i" "$(pending "adf-$i")" 0
    timed rafka.raw "$WORK/baseline" rafka-raw -url "$url" -topic "$topic" -group "raw-$i" -consumers 2
    want_eq "raw consumer" "$(cat "$WORK/last.log")" "$ROWS"
    want_eq "entries pending for raw-$i" "$(pending "raw-$i")" 0
  done
  redis-cli -u "$url" --scan --pattern "rafka:{$topic}:*" | xargs -r redis-cli -u "$url" DEL >/dev/null
  table_header "$ROWS entries; A/B > 1: A faster"
  rate_row "rafka -> discard, 2 readers vs 2 consumers" "$ROWS" rafka.adf rafka.raw
}

bench_iceberg() {
  local p d f
  for i in $(seq 1 "$ROUNDS"); do
    for p in 1 2; do
      echo "iceberg round $i, parallelism $p" >&2
      d="$WORK/ice"
      rm -rf "$d" && mkdir -p "$d"
      f=$(flow "bench_iceberg_$p" "$p" "{type: file, config: {path: \"$CSV\"}}" "{type: iceberg, config: {catalog_uri: \"sqlite://$d/catalog.db\", warehouse: \"file://$d/warehouse\", table: bench.orders}}")
      timed "iceberg.adf-p$p" adf "$f"
      want_eq "Iceberg table (rows sum distinct)" "$("$WORK/iceberg-sum" "$d/catalog.db" "file://$d/warehouse" bench.orders)" "$ROWS $WANT_SUM $ROWS"
      rm -rf "$WORK/out"
      timed "iceberg.pqarrow-p$p" "$WORK/baseline" csv-parquet -p "$p" "$CSV" "$WORK/out"
      want_eq "pqarrow files (rows sum)" "$("$WORK/baseline" parquet-sum "$WORK/out")" "$ROWS $WANT_SUM"
      rm -rf "$WORK/out"
    done
  done
  table_header "$ROWS rows; A/B > 1: A faster"
  for p in 1 2; do
    rate_row "CSV -> Iceberg vs pqarrow, parallelism $p" "$ROWS" "iceberg.adf-p$p" "iceberg.pqarrow-p$p"
  done
}

pyarrow_python() { # the venv's python with pyarrow, installed when missing
  local venv="${ADF_PYARROW_VENV:-/var/tmp/adf-pyarrow-venv}"
  if ! "$venv/bin/python" -c "import pyarrow.csv, pyarrow.parquet" 2>/dev/null; then
    echo "installing pyarrow into $venv..." >&2
    python3 -m venv "$venv" >&2
    "$venv/bin/pip" install --quiet pyarrow >&2
  fi
  echo "$venv/bin/python"
}

bench_parquet() {
  local p py
  py=$(pyarrow_python)
  for p in 1 2; do
    flow "bench_parquet_$p" "$p" "{type: file, config: {path: \"$CSV\"}}" "{type: file, config: {path: \"$WORK/pq/adf.parquet\"}}" >/dev/null
  done
  for i in $(seq 1 "$ROUNDS"); do
    for p in 1 2; do
      echo "parquet round $i, parallelism $p" >&2
      rm -rf "$WORK/pq" && mkdir -p "$WORK/pq"
      timed "parquet.adf-p$p" adf "$WORK/bench_parquet_$p.yaml"
      want_eq "adf Parquet (rows sum)" "$("$WORK/baseline" parquet-sum "$WORK/pq")" "$ROWS $WANT_SUM"
      rm -rf "$WORK/pq" && mkdir -p "$WORK/pq"
      timed "parquet.pyarrow-t$p" "$py" scripts/bench/pyarrow_csv_parquet.py "$CSV" "$WORK/pq/pyarrow.parquet" "$p"
      want_eq "pyarrow Parquet (rows sum)" "$("$WORK/baseline" parquet-sum "$WORK/pq")" "$ROWS $WANT_SUM"
    done
  done
  table_header "$ROWS rows; A/B > 1: A faster"
  rate_row "CSV -> Parquet, 1 reader vs pyarrow 1 thread" "$ROWS" parquet.adf-p1 parquet.pyarrow-t1
  rate_row "CSV -> Parquet, 2 readers vs pyarrow pool" "$ROWS" parquet.adf-p2 parquet.pyarrow-t2
}

bench_s3() {
  local p bucket="adf-bench-$$" size read
  eval "$(./scripts/minio.sh start)"
  "$WORK/baseline" s3-put "$bucket" orders.csv "$CSV"
  size=$(stat -c %s "$CSV")
  local url="s3://$bucket/orders.csv?endpoint=$ADF_TEST_S3_ENDPOINT&use_path_style=true&region=${ADF_TEST_S3_REGION:-us-east-1}"
  local keys="s3: {access_key_id: \"$ADF_TEST_S3_ACCESS_KEY\", secret_access_key: \"$ADF_TEST_S3_SECRET_KEY\"}"
  for p in 1 2; do
    flow "bench_s3_$p" "$p" "{type: file, config: {path: \"$url\", $keys}}" "{type: discard}" >/dev/null
  done
  flow bench_local_1 1 "{type: file, config: {path: \"$CSV\"}}" "{type: discard}" >/dev/null
  for i in $(seq 1 "$ROUNDS"); do
    for p in 1 2; do
      echo "s3 round $i, parallelism $p" >&2
      timed "s3.adf-p$p" adf "$WORK/bench_s3_$p.yaml"
      read="$(sed -n 's/.*: \([0-9]*\) rows read,.*/\1/p' "$WORK/last.log")"
      want_eq "adf rows read from S3" "$read" "$ROWS"
      timed "s3.get-n$p" "$WORK/baseline" s3-get -n "$p" "$bucket" orders.csv
      want_eq "bytes of the raw GETs" "$(cat "$WORK/last.log")" "$size"
    done
    timed "s3.adf-local-p1" adf "$WORK/bench_local_1.yaml"
    read="$(sed -n 's/.*: \([0-9]*\) rows read,.*/\1/p' "$WORK/last.log")"
    want_eq "adf rows read from the local file" "$read" "$ROWS"
  done
  "$WORK/baseline" s3-rm "$bucket"
  table_header "$((size / 1000000)) MB object; A/B > 1: A faster"
  bytes_row "S3 read: 1 reader vs one GET (mc cp)" "$size" s3.adf-p1 s3.get-n1
  bytes_row "S3 read: 2 readers vs 2 ranged GETs" "$size" s3.adf-p2 s3.get-n2
  bytes_row "CSV -> discard, 1 reader: S3 vs local file" "$size" s3.adf-p1 s3.adf-local-p1
}

bench_startup() {
  local f
  printf 'id,name,amount,ts\n1,one,1.50,2026-01-01T00:00:00Z\n' >"$WORK/one.csv"
  f=$(flow bench_one 1 "{type: file, config: {path: \"$WORK/one.csv\"}}" "{type: file, config: {path: \"$WORK/one.jsonl\"}}")
  adf "$f" >/dev/null # a first run, untimed
  for i in $(seq 1 $((ROUNDS * 2))); do
    rm -f "$WORK/one.jsonl"
    timed startup.adf adf "$f"
    want_eq "one-row output" "$("$WORK/baseline" jsonl-sum "$WORK/one.jsonl")" "1 1"
    rm -rf "$WORK/out"
    timed startup.go "$WORK/baseline" csv-jsonl -p 1 "$WORK/one.csv" "$WORK/out"
    want_eq "one-row baseline output" "$("$WORK/baseline" jsonl-sum "$WORK/out")" "1 1"
  done
  table_header "one row; A/B > 1: A faster"
  time_row "start-up: one-row CSV -> JSON lines" startup.adf startup.go
}

for b in $WHICH; do
  case "$b" in
    pg | jsonl | rafka | iceberg | parquet | s3 | startup) "bench_$b" ;;
    *) echo "unknown benchmark '$b' (pg, jsonl, rafka, iceberg, parquet, s3, startup)" >&2; exit 2 ;;
  esac
done

echo >&2
echo "$(nproc) cores, $(free -g | awk '/^Mem:/ { print $2 }') GiB, $(go version | cut -d' ' -f3), $(date -u +%Y-%m-%d)"
echo
cat "$WORK/table"
