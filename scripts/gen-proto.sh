#!/usr/bin/env bash
# Regenerates the Go code of the plugin protocol (proto/adf/v1/*.pb.go).
# Needs protoc (apt-get install protobuf-compiler); installs the Go plugins
# at the versions pinned below into $(go env GOPATH)/bin.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/go-toolchain.sh
command -v protoc >/dev/null || { apt-get update -qq && apt-get install -y -qq protobuf-compiler; }
GOBIN="$(go env GOPATH)/bin"
go install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12
go install google.golang.org/grpc/cmd/protoc-gen-go-grpc@v1.6.0
PATH="$GOBIN:$PATH" protoc -I proto \
  --go_out=. --go_opt=module=github.com/activedataflow/adf \
  --go-grpc_out=. --go-grpc_opt=module=github.com/activedataflow/adf \
  proto/adf/v1/plugin.proto
echo "generated: $(ls proto/adf/v1/*.go | tr '\n' ' ')"
