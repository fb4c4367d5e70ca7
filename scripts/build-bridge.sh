#!/usr/bin/env bash
# Builds the ADF Flink bridge (plugins/runtime-flink/bridge) into the shaded jar
# plugins/runtime-flink/bridge/target/adf-flink-bridge.jar and copies it to
# ${ADF_PLUGIN_DIR:-./plugins}/adf-flink-bridge.jar, where the runtime-flink
# plugin finds it. Installs Maven with apt-get when mvn is missing. Skips Maven
# when the jar is newer than the pom and every file under src/.
set -euo pipefail
cd "$(dirname "$0")/.."
BRIDGE=plugins/runtime-flink/bridge
JAR=$BRIDGE/target/adf-flink-bridge.jar
DEST_DIR=${ADF_PLUGIN_DIR:-./plugins}

stale() {
  [ ! -f "$JAR" ] && return 0
  [ -n "$(find "$BRIDGE/pom.xml" "$BRIDGE/src" -newer "$JAR" -print -quit)" ]
}

if stale; then
  if ! command -v mvn >/dev/null; then
    echo "build-bridge: installing Maven" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq maven >/dev/null
  fi
  if ! command -v javac >/dev/null; then
    echo "build-bridge: installing a JDK" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openjdk-17-jdk-headless >/dev/null
  fi
  (cd "$BRIDGE" && mvn -B -q -DskipTests package)
  test -s "$JAR" || { echo "build-bridge: $JAR was not built" >&2; exit 1; }
  touch "$JAR"
fi

mkdir -p "$DEST_DIR"
if ! cmp -s "$JAR" "$DEST_DIR/adf-flink-bridge.jar"; then
  cp "$JAR" "$DEST_DIR/adf-flink-bridge.jar.tmp"
  mv "$DEST_DIR/adf-flink-bridge.jar.tmp" "$DEST_DIR/adf-flink-bridge.jar"
fi
echo "$DEST_DIR/adf-flink-bridge.jar"
