#!/usr/bin/env bash
# Regenerates the Java protobuf + gRPC code of the Flink bridge
# (plugins/runtime-flink/bridge/src/main/java/io/github/activedataflow/adf/proto/)
# from proto/adf/v1/plugin.proto (left untouched: a temp copy gets the Java
# options) and the bridge's own go-plugin / health protos.
# The generated code is committed; run this after changing a proto.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BRIDGE=$ROOT/plugins/runtime-flink/bridge
PROTOC_VERSION=${PROTOC_VERSION:-4.36.2}
GRPC_JAVA_VERSION=${GRPC_JAVA_VERSION:-1.83.0}
TOOLS=${ADF_BRIDGE_TOOLS:-$HOME/.cache/adf-bridge-tools}
mkdir -p "$TOOLS"

if ! command -v mvn >/dev/null; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq maven >/dev/null
fi

fetch() { # groupId artifactId version classifier dest
  local dest=$5
  if [ ! -x "$dest" ]; then
    mvn -B -q dependency:copy -Dartifact="$1:$2:$3:exe:$4" -DoutputDirectory="$TOOLS" -Dmdep.stripVersion=false
    mv "$TOOLS/$2-$3-$4.exe" "$dest"
    chmod +x "$dest"
  fi
}
PROTOC=$TOOLS/protoc-$PROTOC_VERSION
GRPC_PLUGIN=$TOOLS/protoc-gen-grpc-java-$GRPC_JAVA_VERSION
fetch com.google.protobuf protoc "$PROTOC_VERSION" linux-x86_64 "$PROTOC"
fetch io.grpc protoc-gen-grpc-java "$GRPC_JAVA_VERSION" linux-x86_64 "$GRPC_PLUGIN"

# protoc ships the well-known types (google/protobuf/empty.proto) in its zip
# only; the Maven exe has none, so take empty.proto from protobuf-java's jar.
WKT=$TOOLS/wkt-$PROTOC_VERSION
if [ ! -f "$WKT/google/protobuf/empty.proto" ]; then
  mvn -B -q dependency:copy -Dartifact="com.google.protobuf:protobuf-java:$PROTOC_VERSION" -DoutputDirectory="$TOOLS"
  mkdir -p "$WKT"
  (cd "$WKT" && unzip -q -o "$TOOLS/protobuf-java-$PROTOC_VERSION.jar" 'google/protobuf/*.proto')
fi

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
mkdir -p "$TMP/adf/v1"
# The Go proto stays as it is; the copy gets Java options after its package line.
awk '{print} /^package adf\.v1;/{print "option java_package = \"io.github.activedataflow.adf.proto.v1\";"; print "option java_multiple_files = true;"}' \
  proto/adf/v1/plugin.proto > "$TMP/adf/v1/plugin.proto"
cp "$BRIDGE"/src/main/proto-extra/*.proto "$TMP/"

OUT=$BRIDGE/src/main/java
mkdir -p "$OUT"
rm -rf "$OUT/io/github/activedataflow/adf/proto"
"$PROTOC" -I"$TMP" -I"$WKT" \
  --plugin=protoc-gen-grpc-java="$GRPC_PLUGIN" \
  --java_out="$OUT" --grpc-java_out="$OUT" \
  adf/v1/plugin.proto go_plugin.proto health.proto
echo "generated $(find "$OUT/io/github/activedataflow/adf/proto" -name '*.java' | wc -l) files under $OUT/io/github/activedataflow/adf/proto"
