# Sourced by the scripts of scripts/bench: timing of whole processes, the
# orders CSV they load, and the table of medians, min-max and ratios.
# Needs WORK (a scratch directory) set by the caller.

# gen_orders FILE ROWS writes the benchmark CSV: id,name,amount,ts with ids
# 1..ROWS, every 7th name quoted with a comma inside.
gen_orders() {
  awk -v n="$2" 'BEGIN {
    print "id,name,amount,ts"
    for (i = 1; i <= n; i++) {
      name = (i % 7 == 0) ? sprintf("\"smith, jr %d\"", i % 977) : sprintf("name %d", i % 977)
      printf "%d,%s,%d.%02d,2026-01-01T%02d:%02d:%02dZ\n", i, name, i % 100000, i % 100, (i / 3600) % 24, (i / 60) % 60, i % 60
    }
  }' > "$1"
}

# timed NAME CMD... runs CMD with its output in $WORK/last.log, appends its
# wall seconds to the series NAME and prints them; a failed command prints
# its log and ends the script.
timed() {
  local name=$1 t0 t1 s
  shift
  t0=$(date +%s.%N)
  "$@" >"$WORK/last.log" 2>&1 || { echo "benchmark command failed: $*" >&2; cat "$WORK/last.log" >&2; exit 1; }
  t1=$(date +%s.%N)
  s=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f", b - a }')
  mkdir -p "$WORK/series"
  echo "$s" >>"$WORK/series/$name"
  echo "  $name: ${s}s" >&2
}

# stats NAME prints "median min max" of the series NAME (seconds).
stats() {
  sort -n "$WORK/series/$1" | awk '{ a[NR] = $1 } END {
    m = (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2
    printf "%.4f %.4f %.4f", m, a[1], a[NR] }'
}

# want_eq WHAT GOT WANT ends the script unless GOT equals WANT.
want_eq() {
  [ "$2" = "$3" ] || { echo "verification failed: $1 is '$2', want '$3'" >&2; exit 1; }
}

# The table: one line per comparison, written to $WORK/table as it goes.
table_header() {
  printf '%-44s | %-30s | %-30s | %s\n' "comparison ($1)" "A" "B" "A/B" >>"$WORK/table"
  printf '%-44s-|-%-30s-|-%-30s-|-%s\n' "$(printf -- '-%.0s' {1..44})" "$(printf -- '-%.0s' {1..30})" "$(printf -- '-%.0s' {1..30})" "----" >>"$WORK/table"
}

# Series are named BENCH.SIDE (pg.adf); a row shows SIDE.
#
# rate_row TITLE ROWS A B adds a line of two rows/s series: A's and B's
# median and min-max rate, and the ratio of the medians (A faster: > 1).
rate_row() {
  local title=$1 rows=$2 ma mina maxa mb minb maxb
  read -r ma mina maxa <<<"$(stats "$3")"
  read -r mb minb maxb <<<"$(stats "$4")"
  awk -v t="$title" -v n="$rows" -v an="${3#*.}" -v bn="${4#*.}" -v ma="$ma" -v mina="$mina" -v maxa="$maxa" -v mb="$mb" -v minb="$minb" -v maxb="$maxb" '
    function k(x) { return sprintf("%.0fk", x / 1000) }
    BEGIN { printf "%-44s | %-30s | %-30s | %.2f\n", t,
      sprintf("%s %s/s (%s-%s)", an, k(n / ma), k(n / maxa), k(n / mina)),
      sprintf("%s %s/s (%s-%s)", bn, k(n / mb), k(n / maxb), k(n / minb)), mb / ma }' >>"$WORK/table"
}

# bytes_row TITLE BYTES A B is rate_row for series that each moved BYTES:
# MB/s.
bytes_row() {
  local title=$1 bytes=$2 ma mina maxa mb minb maxb
  read -r ma mina maxa <<<"$(stats "$3")"
  read -r mb minb maxb <<<"$(stats "$4")"
  awk -v t="$title" -v n="$bytes" -v an="${3#*.}" -v bn="${4#*.}" -v ma="$ma" -v mina="$mina" -v maxa="$maxa" -v mb="$mb" -v minb="$minb" -v maxb="$maxb" '
    function mbs(x) { return sprintf("%.0f", x / 1000000) }
    BEGIN { printf "%-44s | %-30s | %-30s | %.2f\n", t,
      sprintf("%s %s MB/s (%s-%s)", an, mbs(n / ma), mbs(n / maxa), mbs(n / mina)),
      sprintf("%s %s MB/s (%s-%s)", bn, mbs(n / mb), mbs(n / maxb), mbs(n / minb)), mb / ma }' >>"$WORK/table"
}

# time_row TITLE A B adds a line of two wall-time series in milliseconds,
# the ratio being B's median over A's (A faster: > 1).
time_row() {
  local title=$1 ma mina maxa mb minb maxb
  read -r ma mina maxa <<<"$(stats "$2")"
  read -r mb minb maxb <<<"$(stats "$3")"
  awk -v t="$title" -v an="${2#*.}" -v bn="${3#*.}" -v ma="$ma" -v mina="$mina" -v maxa="$maxa" -v mb="$mb" -v minb="$minb" -v maxb="$maxb" '
    function ms(x) { return sprintf("%.0f", x * 1000) }
    BEGIN { printf "%-44s | %-30s | %-30s | %.2f\n", t,
      sprintf("%s %s ms (%s-%s)", an, ms(ma), ms(mina), ms(maxa)),
      sprintf("%s %s ms (%s-%s)", bn, ms(mb), ms(minb), ms(maxb)), mb / ma }' >>"$WORK/table"
}
