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
# Without credentials the SDK would ask the EC2 metadata address: tests
# never leave loopback.
export AWS_EC2_METADATA_DISABLED=true

# Redocly's CLI (npm, pinned by scripts/openapi/package-lock.json) lints
# schema/openapi.json in the schema package's tests.
if [ ! -x scripts/openapi/node_modules/.bin/redocly ]; then
  if command -v npm >/dev/null; then
    (cd scripts/openapi && npm ci --no-audit --no-fund --loglevel=error)
  elif [ -n "${CI:-}" ]; then
    echo "test: npm is required under CI (for the OpenAPI lint)" >&2
    exit 1
  else
    echo "test: npm is missing; the OpenAPI lint will skip" >&2
  fi
fi

# The report ends with every skipped test and its reason.
report=$(mktemp "${TMPDIR:-/tmp}/tenure-testreport.XXXXXX")
go build -o "$report" ./scripts/testreport
status=0
go test -count=1 -timeout 20m -json ${GOTESTFLAGS:-} ./... | "$report" || status=$?
rm -f "$report"
exit "$status"
