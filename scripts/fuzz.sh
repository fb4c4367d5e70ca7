#!/usr/bin/env bash
# Runs every fuzz target for a short while (FUZZTIME, default 10s each)
# beyond its committed seed corpus, which `go test` already replays. New
# crashers are written under the package's testdata/fuzz/ by go test: commit
# them with the fix.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/go-toolchain.sh
fuzztime="${FUZZTIME:-10s}"
targets=(
  "./sdk/flow FuzzParse"
  "./plugins/file/format FuzzCSV"
  "./plugins/file/format FuzzCSVFraming"
  "./plugins/file/format FuzzJSONLines"
  "./plugins/file/format FuzzJSONArray"
)
for t in "${targets[@]}"; do
  read -r pkg name <<<"$t"
  echo "fuzz $pkg $name for $fuzztime"
  go test -run '^$' -fuzz "^$name\$" -fuzztime "$fuzztime" -parallel 2 "$pkg"
done
