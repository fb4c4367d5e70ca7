#!/usr/bin/env bash
# A local Apache Flink 2.3.0 session cluster (one JobManager, one TaskManager
# with 2 slots) on 127.0.0.1, for trying ADF's Flink runtime and for the tests.
# Installs Flink from PyPI (apache-flink / apache-flink-libraries, which carry
# the Flink distribution) into a virtualenv the first time. Idempotent.
#
#   scripts/flink-local.sh start                 start (if not up) and print `export ADF_FLINK_URL=...`
#   scripts/flink-local.sh stop                  stop the cluster and any leftover JVM of it
#   scripts/flink-local.sh status                exit 0 when the REST API answers
#   scripts/flink-local.sh restart-taskmanager   stop the TaskManager (if alive), start a new one, wait until it registers
#   scripts/flink-local.sh taskmanager-pid       print the TaskManager JVM pid(s)
#   scripts/flink-local.sh env                   print `export ADF_FLINK_URL=...` (and FLINK_HOME, FLINK_CONF_DIR)
#
# For `eval "$(scripts/flink-local.sh start)"`; progress goes to stderr.
#
#   ADF_FLINK_VENV  the virtualenv (default /var/cache/adf-test/flink-venv)
#   ADF_FLINK_DIR   state: conf, logs, pids, checkpoints, uploads (default /var/tmp/adf-flink)
#   ADF_FLINK_PORT  REST port (default 8081)
#   ADF_FLINK_RPC_PORT  JobManager RPC port (default 6123; a second cluster needs another)
set -euo pipefail
FLINK_VERSION=2.3.0
VENV="${ADF_FLINK_VENV:-/var/cache/adf-test/flink-venv}"
STATE="${ADF_FLINK_DIR:-/var/tmp/adf-flink}"
PORT="${ADF_FLINK_PORT:-8081}"
RPC_PORT="${ADF_FLINK_RPC_PORT:-6123}"
URL="http://127.0.0.1:$PORT"
CONF="$STATE/conf"

log() { echo "flink-local: $*" >&2; }

# pyflink_home prints the Flink distribution inside the virtualenv.
pyflink_home() {
  local d
  for d in "$VENV"/lib/python3*/site-packages/pyflink; do
    [ -x "$d/bin/start-cluster.sh" ] && [ -f "$d/lib/flink-dist-$FLINK_VERSION.jar" ] && { echo "$d"; return 0; }
  done
  return 1
}

install() {
  if FLINK_HOME="$(pyflink_home)"; then return 0; fi
  mkdir -p "$(dirname "$VENV")"
  # One installer at a time; the others wait and then find it installed.
  exec 8>"$VENV.lock"
  flock 8
  if ! FLINK_HOME="$(pyflink_home)"; then
    log "installing Apache Flink $FLINK_VERSION from PyPI into $VENV"
    [ -x "$VENV/bin/pip" ] || python3 -m venv "$VENV" >&2
    "$VENV/bin/pip" install -q --no-deps "apache-flink==$FLINK_VERSION" "apache-flink-libraries==$FLINK_VERSION" >&2
    FLINK_HOME="$(pyflink_home)" || { log "pip installed apache-flink but $VENV has no pyflink/bin/start-cluster.sh"; exit 1; }
  fi
  flock -u 8
  exec 8>&-
}

setup_java() {
  if [ -z "${JAVA_HOME:-}" ]; then
    local java
    java="$(command -v java)" || { log "java not found: Flink needs Java 17 (apt-get install openjdk-17-jre-headless)"; exit 1; }
    JAVA_HOME="$(dirname "$(dirname "$(readlink -f "$java")")")"
    export JAVA_HOME
  fi
}

# write_conf makes the cluster's own conf dir: the distribution's files and a
# config.yaml of its own (Flink 2.x reads config.yaml, standard YAML).
write_conf() {
  mkdir -p "$CONF" "$STATE/log" "$STATE/pid" "$STATE/tmp" "$STATE/upload" "$STATE/checkpoints" "$STATE/savepoints"
  local f
  for f in "$FLINK_HOME"/conf/*; do
    case "$(basename "$f")" in config.yaml | masters | workers) ;; *) cp -f "$f" "$CONF/" ;; esac
  done
  local java_opts
  java_opts="$(sed -n 's/^ *all: *//p' "$FLINK_HOME/conf/config.yaml" | head -n 1)"
  cat >"$CONF/config.yaml.tmp" <<EOF
# Written by scripts/flink-local.sh; rewritten on every start.
env.java.opts.all: $java_opts
env.pid.dir: $STATE/pid
env.log.dir: $STATE/log
jobmanager.rpc.address: localhost
jobmanager.rpc.port: $RPC_PORT
jobmanager.bind-host: 127.0.0.1
jobmanager.memory.process.size: 1024m
jobmanager.execution.failover-strategy: region
taskmanager.bind-host: 127.0.0.1
taskmanager.host: 127.0.0.1
taskmanager.numberOfTaskSlots: 2
taskmanager.memory.process.size: 2048m
parallelism.default: 1
rest.port: $PORT
rest.address: 127.0.0.1
rest.bind-address: 127.0.0.1
# Job jars carry the ADF plugin binaries.
rest.server.max-content-length: 536870912
web.upload.dir: $STATE/upload
web.submit.enable: true
web.cancel.enable: true
state.checkpoints.dir: file://$STATE/checkpoints
execution.checkpointing.dir: file://$STATE/checkpoints
state.savepoints.dir: file://$STATE/savepoints
execution.checkpointing.savepoint-dir: file://$STATE/savepoints
io.tmp.dirs: $STATE/tmp
# A killed TaskManager is noticed within seconds, not the default 50s.
heartbeat.interval: 2000
heartbeat.timeout: 15000
EOF
  mv -f "$CONF/config.yaml.tmp" "$CONF/config.yaml"
  echo "localhost:$PORT" >"$CONF/masters"
  echo "localhost" >"$CONF/workers"
  export FLINK_CONF_DIR="$CONF" FLINK_LOG_DIR="$STATE/log" FLINK_PID_DIR="$STATE/pid"
}

overview() { curl -sf --max-time 3 "$URL/overview" 2>/dev/null; }

# json_get KEY reads an integer field of the JSON on stdin (0 when missing).
json_get() { python3 -c 'import json,sys
try: print(int(json.load(sys.stdin).get(sys.argv[1], 0)))
except Exception: print(0)' "$1"; }

up() { overview >/dev/null; }

# ready: a TaskManager is registered and both its slots are free.
ready() {
  local o
  o="$(overview)" || return 1
  [ "$(json_get taskmanagers <<<"$o")" -ge 1 ] && [ "$(json_get slots-available <<<"$o")" -ge 2 ]
}

# pids of this cluster's JVMs (any role): their command line names our conf dir.
cluster_pids() { pgrep -f -- "-Dlog4j.configuration=file:$CONF/log4j.properties" || true; }
tm_pids() {
  local p
  for p in $(pgrep -f -- "TaskManagerRunner" || true); do
    tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -qF -- "file:$CONF/log4j.properties" && echo "$p"
  done
  return 0
}

logs_tail() {
  local f
  for f in "$STATE"/log/*standalonesession*.log "$STATE"/log/*taskexecutor*.log "$STATE"/log/*.out; do
    [ -s "$f" ] || continue
    echo "==> $f <==" >&2
    tail -n 40 "$f" >&2
  done
}

print_env() {
  echo "export ADF_FLINK_URL=$URL"
}

start() {
  exec 9>"$STATE.lock"
  flock 9
  if up; then
    if [ -z "$(cluster_pids)" ]; then
      log "$URL answers, but not as this script's cluster (no JVM with conf $CONF): another Flink uses port $PORT; set ADF_FLINK_PORT (and ADF_FLINK_RPC_PORT) or ADF_FLINK_DIR to match it"
      exit 1
    fi
    log "already up at $URL"
  else
    cluster_pids | xargs -r kill -9 2>/dev/null || true
    rm -f "$STATE"/pid/*.pid
    log "starting Flink $FLINK_VERSION ($FLINK_HOME) with conf $CONF, logs in $STATE/log"
    # The JVMs (and the plugin processes the bridge starts) run in the
    # state directory, not in the caller's, which may be a checkout that is
    # deleted while the cluster lives on.
    (cd "$STATE" && "$FLINK_HOME/bin/start-cluster.sh") >&2
  fi
  local i
  for i in $(seq 1 240); do
    ready && break
    sleep 0.5
  done
  if ! ready; then
    if up; then log "the JobManager answers at $URL but no TaskManager with 2 free slots registered within 120s"
    else log "the JobManager did not answer at $URL within 120s"; fi
    logs_tail
    exit 1
  fi
  flock -u 9
  print_env
}

stop() {
  if [ -d "$CONF" ]; then
    "$FLINK_HOME/bin/stop-cluster.sh" >/dev/null 2>&1 || true
  fi
  local i
  for i in $(seq 1 50); do
    [ -z "$(cluster_pids)" ] && break
    sleep 0.2
  done
  cluster_pids | xargs -r kill -9 2>/dev/null || true
  rm -f "$STATE"/pid/*.pid
}

tm_ids() { curl -sf --max-time 3 "$URL/taskmanagers" | python3 -c 'import json,sys
for t in json.load(sys.stdin).get("taskmanagers", []): print(t["id"])' 2>/dev/null || true; }

restart_taskmanager() {
  up || { log "Flink is not up at $URL (scripts/flink-local.sh start)"; exit 1; }
  local before p i
  for p in $(tm_pids); do kill "$p" 2>/dev/null || true; done
  for i in $(seq 1 50); do [ -z "$(tm_pids)" ] && break; sleep 0.2; done
  tm_pids | xargs -r kill -9 2>/dev/null || true
  before="$(tm_ids)"
  (cd "$STATE" && "$FLINK_HOME/bin/taskmanager.sh" start) >&2
  for i in $(seq 1 240); do
    for p in $(tm_ids); do
      if ! grep -qxF -- "$p" <<<"$before"; then
        log "TaskManager $p registered"
        return 0
      fi
    done
    sleep 0.5
  done
  log "the new TaskManager did not register within 120s"
  logs_tail
  exit 1
}

mkdir -p "$STATE"
case "${1:-start}" in
  start) install; setup_java; write_conf; start ;;
  stop) FLINK_HOME="$(pyflink_home)" || exit 0; setup_java; write_conf; stop ;;
  status) up ;;
  restart-taskmanager) install; setup_java; write_conf; restart_taskmanager ;;
  taskmanager-pid) p="$(tm_pids)"; [ -n "$p" ] || exit 1; echo "$p" ;;
  env) install; print_env; echo "export FLINK_HOME='$FLINK_HOME'"; echo "export FLINK_CONF_DIR='$CONF'" ;;
  *) echo "usage: $0 start|stop|status|restart-taskmanager|taskmanager-pid|env" >&2; exit 2 ;;
esac
