#!/usr/bin/env bash
# Dev helper: builds a job jar from the bridge jar + a job.json + the plugin
# executables it names, submits it to a Flink REST endpoint and waits for the
# job to end, printing its state and ADF accumulators.
#
#   dev-submit.sh JOB_JSON [FLINK_URL]        (FLINK_URL default $ADF_FLINK_URL or http://127.0.0.1:8081)
#   ADF_PLUGIN_DIR  where adf-plugin-* are (default ./plugins); bin/ is searched too
#   NO_WAIT=1       print the job id and return right after submitting
set -euo pipefail
JOB_JSON=$1
URL=${2:-${ADF_FLINK_URL:-http://127.0.0.1:8081}}
ROOT=$(cd "$(dirname "$0")/../../.." && pwd)
JAR=${BRIDGE_JAR:-$ROOT/plugins/runtime-flink/bridge/target/adf-flink-bridge.jar}
PLUGIN_DIR=${ADF_PLUGIN_DIR:-$ROOT/plugins}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$WORK/adf/plugins"
cp "$JOB_JSON" "$WORK/adf/job.json"
PAR=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1])).get("parallelism",1))' "$JOB_JSON")
for exe in $(python3 -c 'import json,sys
c=json.load(open(sys.argv[1]))["components"]
print("\n".join(sorted(set([c["source"],c["sink"]]+c.get("transforms",[])))))' "$JOB_JSON"); do
  src=""
  for d in "$PLUGIN_DIR" "$ROOT/plugins" "$ROOT/bin"; do [ -x "$d/$exe" ] && { src=$d/$exe; break; }; done
  [ -n "$src" ] || { echo "dev-submit: no executable $exe" >&2; exit 1; }
  cp "$src" "$WORK/adf/plugins/$exe"
done
cp "$JAR" "$WORK/job.jar"
(cd "$WORK" && jar uf job.jar adf/job.json adf/plugins)
ID=$(curl -sf -F "jarfile=@$WORK/job.jar" "$URL/jars/upload" | python3 -c 'import json,sys; print(json.load(sys.stdin)["filename"].rsplit("/",1)[-1])')
RUN=$(curl -s -X POST -H 'Content-Type: application/json' -d "{\"entryClass\":\"io.github.activedataflow.adf.flink.FlowJob\",\"parallelism\":$PAR}" "$URL/jars/$ID/run")
curl -s -X DELETE "$URL/jars/$ID" >/dev/null || true
JOB=$(python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print(d.get("jobid",""))' "$RUN")
[ -n "$JOB" ] || { echo "dev-submit: run failed: $RUN" >&2; exit 1; }
echo "job $JOB"
[ -n "${NO_WAIT:-}" ] && exit 0
while :; do
  ST=$(curl -s "$URL/jobs/$JOB" | python3 -c 'import json,sys; print(json.load(sys.stdin)["state"])')
  case $ST in FINISHED|FAILED|CANCELED) break ;; esac
  sleep 1
done
echo "state $ST"
curl -s "$URL/jobs/$JOB/accumulators" | python3 -c 'import json,sys
for a in json.load(sys.stdin).get("user-task-accumulators",[]): print(a["name"], a["value"])'
if [ "$ST" = FAILED ]; then
  curl -s "$URL/jobs/$JOB/exceptions" | python3 -c 'import json,sys; d=json.load(sys.stdin); print((d.get("root-exception") or d.get("exceptionHistory",{}).get("entries",[{}])[0].get("stacktrace",""))[:3000])'
  exit 1
fi
