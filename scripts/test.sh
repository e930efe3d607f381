#!/usr/bin/env bash
# The one test command (`make test`). It starts what the tests need —
# DynamoDB Local on 127.0.0.1 — and stops it afterwards. Under CI every
# component must be there: tests that need one fail rather than skip.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -z "${AWS_ENDPOINT_URL_DYNAMODB:-}" ]; then
  if out=$(bash scripts/dynamodb-local.sh start); then
    eval "$out"
    trap 'bash scripts/dynamodb-local.sh stop' EXIT
  elif [ -n "${CI:-}" ]; then
    echo "test: DynamoDB Local is required under CI" >&2
    exit 1
  else
    echo "test: DynamoDB Local did not start; its tests will skip" >&2
  fi
fi
# DynamoDB Local accepts any credentials; the SDK insists on some.
export AWS_REGION=${AWS_REGION:-us-east-1}
export AWS_ACCESS_KEY_ID=${AWS_ACCESS_KEY_ID:-local}
export AWS_SECRET_ACCESS_KEY=${AWS_SECRET_ACCESS_KEY:-local}

go test -count=1 -timeout 20m ${GOTESTFLAGS:-} ./...
