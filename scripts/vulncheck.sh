#!/usr/bin/env bash
# govulncheck over the whole module, against a local copy of the Go
# vulnerability database: the database is built from the OSV reports in the
# golang.org/x/vulndb module (fetched from the Go module proxy) with its own
# indexdb command, and cached outside the repository. Exits non-zero when
# code the project calls is affected.
# VULNDB_VERSION picks the database snapshot (a module version; "latest"
# for today's).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/go-toolchain.sh
vulndb="${VULNDB_VERSION:-v0.0.0-20261105234957-e22db6528018}"
govulncheck=v1.9.0
if [ "$vulndb" = latest ]; then
  vulndb="$(go list -m -f '{{.Version}}' golang.org/x/vulndb@latest)"
fi
db="${ADF_TEST_CACHE:-/var/cache/adf-test}/vulndb/$vulndb"
if [ ! -f "$db/index/db.json" ]; then
  echo "vulncheck: building the vulnerability database $vulndb into $db" >&2
  go mod download golang.org/x/vulndb@"$vulndb"
  osv="$(go env GOMODCACHE)/golang.org/x/vulndb@$vulndb/data/osv"
  rm -rf "$db.tmp" && mkdir -p "$(dirname "$db")"
  go run golang.org/x/vulndb/cmd/indexdb@"$vulndb" -vulns "$osv" -out "$db.tmp"
  mv "$db.tmp" "$db"
fi
go run golang.org/x/vuln/cmd/govulncheck@"$govulncheck" -db "file://$db" ./...
